"""knowledge_service: answers a query from the caller's knowledge bases and custom knowledge."""

from __future__ import annotations

import time
from typing import Any

from django.utils import timezone

from accounts.models import Account
from breact.dates import iso
from breact.errors import BadRequest
from breact.params import NOT_BLANK_PATTERN
from services.catalog._schema import required_text
from services.catalogue.registry import (
    EndpointDefinition,
    HandlerOutput,
    ServiceDefinition,
    ServiceFailure,
)
from services.engines import embeddings, local_or_model, run_metadata
from services.engines.llm import ProviderRoute, chat_json, route_for
from services.engines.local_knowledge import (
    Hit,
    KnowledgeIndex,
    Passage,
    chunk_text,
    confidence_of,
    extract_text,
    extractive_answer,
    index_for,
    ranked_documents,
    select_passages,
    trim_text,
)
from services.knowledge.selectors import knowledge_base_ids_missing, knowledge_passages

DEFAULT_MODEL = "mistral-large-2411"
LOCAL_ENGINE = "local/bm25-extractive"
MAX_QUERY_CHARS = 4_000
MAX_CUSTOM_KNOWLEDGE_CHARS = 200_000
MAX_KNOWLEDGE_BASES = 5
MAX_SYSTEM_PROMPT_CHARS = 4_000
CHARS_PER_TOKEN = 4  # a rough estimate for English; used to keep the prompt in maxInputTokens
MAX_SOURCES = 5
MAX_LLM_PASSAGES = 12
CUSTOM_KNOWLEDGE_TITLE = "context.knowledge"
NO_MATCH = "The knowledge given does not contain an answer to this question."

DEFAULT_SYSTEM_PROMPT = (
    "You answer questions using only the numbered knowledge passages provided. If they do not "
    "contain the answer, say so plainly instead of guessing. Reply with a JSON object only: "
    '{"response": "<the answer>", "confidence": <a number from 0 to 1: how well the passages '
    'support the answer>, "used_passages": [<the numbers of the passages you used>]}.'
)

_CONFIG_DEFAULTS = {
    "modelId": DEFAULT_MODEL,
    "maxInputTokens": 7000,
    "maxTokens": 4000,
    "maxOutputLength": 1000,
    "temperature": 0.1,
}


def _config(params: dict[str, Any]) -> dict[str, Any]:
    return {**_CONFIG_DEFAULTS, **params.get("config", {})}


def prepare_params(params: dict[str, Any], account: Account) -> dict[str, Any]:
    """Check, before the call is charged, that every id in context.knowledgeBases is a knowledge
    base of the calling `account`. Raises BadRequest (paths in details.errors) for an id that
    does not exist or belongs to another account (one answer for both); returns the params to
    store. Meant to run in the execute view after schema validation."""
    kb_ids = params.get("context", {}).get("knowledgeBases", [])
    missing = set(knowledge_base_ids_missing(account=account, kb_ids=kb_ids))
    if missing:
        errors = [
            {
                "path": f"context.knowledgeBases[{i}]",
                "message": "No knowledge base with this id in your account.",
            }
            for i, kb_id in enumerate(kb_ids)
            if kb_id in missing
        ]
        raise BadRequest(
            "Unknown knowledge base: "
            + ", ".join(sorted(missing))
            + ". GET /api/v1/knowledge-bases lists yours.",
            details={"errors": errors},
        )
    return params


def _gather(params: dict[str, Any]) -> tuple[list[str], list[Passage]]:
    context = params["context"]
    kb_ids: list[str] = context.get("knowledgeBases", [])
    passages: list[Passage] = []
    if kb_ids:
        found, passages = knowledge_passages(kb_ids=kb_ids)
        gone = [kb_id for kb_id in kb_ids if kb_id not in found]
        if gone:
            raise ServiceFailure(f"The knowledge base {', '.join(gone)} no longer exists.")
    custom = context.get("knowledge", "")
    if custom.strip():
        text, _ = extract_text(custom, "text")
        passages += [
            Passage(text=chunk, title=CUSTOM_KNOWLEDGE_TITLE, position=i)
            for i, chunk in enumerate(chunk_text(text))
        ]
    return kb_ids, passages


def _sources(hits: list[Hit]) -> list[dict[str, Any]]:
    return [
        {
            "kb_id": hit.passage.kb_id,
            "doc_id": hit.passage.doc_id,
            "title": hit.passage.title,
            "score": round(hit.score, 4),
        }
        for hit in ranked_documents(hits)[:MAX_SOURCES]
    ]


def _local_answer(
    index: KnowledgeIndex, query: str, hits: list[Hit], config: dict[str, Any]
) -> tuple[dict[str, Any], list[Hit]]:
    if not hits:
        return {"response": NO_MATCH, "usedKnowledge": "", "confidence": 0.0}, []
    chosen = select_passages(hits, max_chars=config["maxInputTokens"] * CHARS_PER_TOKEN)
    response = extractive_answer(index, query, chosen, max_chars=config["maxOutputLength"])
    return {
        "response": response,
        "usedKnowledge": "\n\n".join(hit.passage.text for hit in chosen),
        "confidence": confidence_of(index, query, hits),
    }, chosen


def _answer_problems(data: Any, passage_count: int) -> list[str]:
    if not isinstance(data, dict):
        return ["the answer must be a JSON object"]
    problems = []
    response = data.get("response")
    if not isinstance(response, str) or not response.strip():
        problems.append('"response" must be a non-empty string')
    confidence = data.get("confidence")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 <= confidence <= 1
    ):
        problems.append('"confidence" must be a number from 0 to 1')
    used = data.get("used_passages", [])
    if not isinstance(used, list) or any(
        isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= passage_count for n in used
    ):
        problems.append(f'"used_passages" must list passage numbers from 1 to {passage_count}')
    return problems


def _model_answer(
    route: ProviderRoute, query: str, hits: list[Hit], config: dict[str, Any]
) -> tuple[tuple[dict[str, Any], list[Hit]], dict[str, Any]]:
    """((answer, passages used), usage) from the model."""
    system = DEFAULT_SYSTEM_PROMPT + (
        f" Keep the response under {config['maxOutputLength']} characters."
    )
    if config.get("systemPrompt"):
        system += "\n\n" + config["systemPrompt"]
    question = f"Question: {query}"
    budget = config["maxInputTokens"] * CHARS_PER_TOKEN - len(system) - len(question) - 40
    if budget < 0:
        raise ServiceFailure(
            "The question and system prompt alone exceed config.maxInputTokens "
            f"({config['maxInputTokens']} tokens, about {CHARS_PER_TOKEN} characters each)."
        )
    sent: list[Hit] = []
    blocks: list[str] = []
    for hit in hits[:MAX_LLM_PASSAGES]:
        block = f"[{len(sent) + 1}] ({hit.passage.title}) {hit.passage.text}"
        if len(block) + 2 > budget:
            break
        budget -= len(block) + 2
        sent.append(hit)
        blocks.append(block)
    passages_text = "\n\n".join(blocks) if blocks else "(no passage matches the question)"
    user = f"Knowledge passages:\n\n{passages_text}\n\n{question}"
    count = len(sent)
    chat = chat_json(
        route,
        system=system,
        user=user,
        check=lambda data: _answer_problems(data, count),
        temperature=config["temperature"],
        max_tokens=config["maxTokens"],
    )
    if "used_passages" in chat.data:  # the model's own account of what it used, even none
        used = [sent[n - 1] for n in sorted(set(chat.data["used_passages"]))]
    else:
        used = sent
    answer = {
        "response": trim_text(chat.data["response"], config["maxOutputLength"]),
        "usedKnowledge": "\n\n".join(hit.passage.text for hit in used),
        "confidence": round(float(chat.data["confidence"]), 3),
    }
    return (answer, used), chat.usage.as_dict()


def process(params: dict[str, Any]) -> HandlerOutput:
    started = time.perf_counter()
    query: str = params["content"]
    config = _config(params)
    requested = SERVICE.endpoints["process"].requested_model(params)
    kb_ids, passages = _gather(params)
    index = index_for(passages)
    hits = index.search(query)

    def locally() -> tuple[tuple[dict[str, Any], list[Hit]], dict[str, Any]]:
        answer, used = _local_answer(index, query, hits, config)
        return (answer, used), {
            "input_chars": len(query) + len(params["context"].get("knowledge", "")),
            "passages_searched": len(passages),
            "output_chars": len(answer["response"]),
        }

    (result, used), model, usage = local_or_model(
        route_for(requested or DEFAULT_MODEL),
        engine=LOCAL_ENGINE,
        local=locally,
        model=lambda route: _model_answer(route, query, hits, config),
    )
    return HandlerOutput(
        result=result,
        metadata=run_metadata(
            model=model,
            requested_model=requested,
            started=started,
            usage=usage,
            processed_at=iso(timezone.now()),
            knowledge_bases=kb_ids,
            sources=_sources(hits),
            retrieval={
                "method": "bm25",
                # the best BM25 candidates and the answer's sentences also ranked by meaning
                "embeddings": embeddings.MODEL if embeddings.available() else None,
                "passages_searched": len(passages),
                "passages_matched": len(hits),
                "passages_used": len(used),
            },
        ),
    )


SERVICE = ServiceDefinition(
    id="knowledge_service",
    name="Knowledge Service",
    description="Answers a question from your knowledge bases (documents you upload under "
    "/api/v1/knowledge-bases) and any custom knowledge sent with the call. Passages are ranked "
    "with BM25, the best ten also by meaning (sentence embeddings) where the server has them; "
    "the answer is composed from the best passages by the local engine or by the requested "
    "model.",
    config={"default_model": DEFAULT_MODEL},
    endpoints={
        "process": EndpointDefinition(
            name="process",
            description="Answer `content` (a question) from the knowledge bases listed in "
            "context.knowledgeBases and the text in context.knowledge. Returns the answer, the "
            "passages it used and a confidence; metadata lists the ranked source documents.",
            price=3,
            model_path=("config", "modelId"),
            prepare=prepare_params,
            input_schema={
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "content": required_text(
                        "The question or message to answer.", max_length=MAX_QUERY_CHARS
                    ),
                    "context": {
                        "type": "object",
                        "description": "Where the answer comes from: knowledge-base ids, custom "
                        "knowledge, or both (at least one).",
                        "properties": {
                            "knowledgeBases": {
                                "type": "array",
                                "description": "Ids of your knowledge bases (kb_…) to search.",
                                "items": {
                                    "type": "string",
                                    "pattern": "^kb_[A-Za-z0-9_-]{1,40}$",
                                },
                                "maxItems": MAX_KNOWLEDGE_BASES,
                                "uniqueItems": True,
                                "default": [],
                            },
                            "knowledge": {
                                "type": "string",
                                "description": "Extra custom knowledge (plain text) to search "
                                "along with the knowledge bases.",
                                "maxLength": MAX_CUSTOM_KNOWLEDGE_CHARS,
                            },
                        },
                        # Without custom knowledge, at least one knowledge base is needed.
                        "if": {
                            "required": ["knowledge"],
                            "properties": {"knowledge": {"pattern": NOT_BLANK_PATTERN}},
                        },
                        "else": {
                            "required": ["knowledgeBases"],
                            "properties": {"knowledgeBases": {"minItems": 1}},
                        },
                        "additionalProperties": False,
                    },
                    "config": {
                        "type": "object",
                        "description": "Model and size settings.",
                        "properties": {
                            "modelId": {
                                "type": "string",
                                "description": "The model to answer with; without a provider "
                                "for it the local engine answers.",
                                "default": DEFAULT_MODEL,
                                "minLength": 1,
                                "maxLength": 128,
                            },
                            "maxInputTokens": {
                                "type": "integer",
                                "description": "Cap on the combined input (question, prompt and "
                                "passages), in tokens of about 4 characters.",
                                "minimum": 256,
                                "maximum": 128_000,
                                "default": 7000,
                            },
                            "maxTokens": {
                                "type": "integer",
                                "description": "Cap on the tokens the model may generate.",
                                "minimum": 1,
                                "maximum": 32_000,
                                "default": 4000,
                            },
                            "maxOutputLength": {
                                "type": "integer",
                                "description": "Maximum characters in the response.",
                                "minimum": 1,
                                "maximum": 20_000,
                                "default": 1000,
                            },
                            "systemPrompt": {
                                "type": "string",
                                "description": "Instructions appended to the default prompt.",
                                "maxLength": MAX_SYSTEM_PROMPT_CHARS,
                            },
                            "temperature": {
                                "type": "number",
                                "description": "Sampling temperature of the model.",
                                "minimum": 0,
                                "maximum": 1,
                                "default": 0.1,
                            },
                        },
                        "additionalProperties": False,
                    },
                },
                "required": ["content", "context"],
                "additionalProperties": False,
            },
            returns={
                "type": "object",
                "description": "result: {response (at most maxOutputLength characters), "
                "usedKnowledge (the passages the answer rests on), confidence (0..1)}; "
                "metadata: model, requested_model, processing_time, processed_at, "
                "knowledge_bases, sources [{kb_id, doc_id, title, score}], retrieval, usage.",
            },
            handler=process,
            example={
                "content": "How do I reset my password?",
                "context": {
                    "knowledgeBases": [],
                    "knowledge": "To reset your password, open Settings, choose Security and "
                    "click Reset password. A reset link is sent to your email address and "
                    "stays valid for 30 minutes.",
                },
                "config": {"maxOutputLength": 500},
            },
        )
    },
)
