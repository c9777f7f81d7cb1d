"""The built-in service catalogue: one module per service, discovered by
services.catalogue.registry.

How a service module is written (services/catalog/text_analyzer.py is the reference):
- It defines `SERVICE = ServiceDefinition(...)`: id, name, description, aliases, config and its
  endpoints. Each EndpointDefinition carries a strict JSON Schema (descriptions, enums, defaults,
  maxLength/maxItems limits: the API validates before charging), `returns`, a `price` in credits,
  an `example`, and `model_path`, where the parameters name the model (("model_id",) for the
  snake_case endpoints, ("config", "modelId") for the documented `process` endpoints).
- The handler takes the validated parameters and returns HandlerOutput(result, metadata, extra):
  `metadata` from services.engines.run_metadata(model=..., requested_model=..., started=...,
  usage=...), `extra` for the service-specific top-level keys the BReact docs show (`summary`,
  `analysis`, `response`).
- `route_for(endpoint.requested_model(params))` (services.engines.llm) names the
  OpenAI-compatible provider for the requested model; with None the local engine runs: a
  deterministic algorithm on the CPU that downloads nothing. Model answers go through
  `chat_json(..., check=...)`, which asks once for a repair when the check fails.
- A failure of the service itself raises services.catalogue.registry.ServiceFailure with a clear
  message: the caller gets an inner `status: "error"` and the credits back.
- Shared text helpers live in services/engines/text.py.
"""
