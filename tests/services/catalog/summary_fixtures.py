"""Reference texts for the summary service's local engine, with the key sentences marked.

Each text was written by hand in a different genre (news, incident report, review, research
note, meeting notes, explainer); the sentences a human editor would keep in a short summary
are wrapped in [[ ]]. `plain()` strips the marks; `key_sentences()` lists the marked ones.
"""

from __future__ import annotations

import re

_MARK = re.compile(r"\[\[(.+?)\]\]", re.DOTALL)

TEXTS: dict[str, str] = {
    "council_budget": """\
[[The city council approved a 2.4 billion euro budget on Tuesday that raises spending on public \
transport by 18 percent.]] The vote was 31 to 14 after a debate that lasted almost nine hours. \
Several members of the opposition left the chamber before the final count.

[[Most of the new money will go to a tram line linking the northern suburbs with the central \
station, which is due to open in 2028.]] The mayor called the project the largest investment in \
the city's history. Critics said the cost estimates were too optimistic and pointed to delays on \
the last extension. A spokesperson for the transport authority said the tenders would be \
published in the spring.

[[To pay for it, the council will raise the tourist tax from three to five euros a night and \
cut the road maintenance budget by a tenth.]] Hotel owners have already complained about the \
tax. The chamber of commerce said it would study the plan before commenting. [[The budget still \
needs the approval of the regional government, which is expected in March.]]""",
    "outage_report": """\
On 14 June our users saw errors for part of the afternoon. This report explains what happened \
and what we are changing. We are sorry for the disruption.

[[Between 13:05 and 14:52 UTC, about 40 percent of API requests failed with HTTP 503 errors.]] \
Requests to the dashboard were slow but mostly succeeded. No data was lost, and all queued jobs \
ran once the service recovered.

[[The root cause was a configuration change that lowered the connection limit of the primary \
database from 500 to 50.]] The change was meant for a staging environment but was applied to \
production by a deployment script. When traffic rose after lunch, the application servers could \
not get connections and began to time out. Our alerts fired at 13:09, but the first responders \
looked at the load balancers for almost an hour.

[[We restored the limit at 14:40, and error rates returned to normal twelve minutes later.]] \
[[We are adding a check that refuses database changes whose target environment does not match, \
and an alert on connection pool saturation.]] Both will be in place by the end of the month.""",
    "headphones_review": """\
I have used these headphones every day for three weeks, on the train, at my desk and on two \
long flights. They come in a sturdy case with a short charging cable and an airplane adapter.

[[The noise cancelling is excellent and easily the best I have tried at this price.]] Engine \
hum on the plane almost disappeared, and office chatter becomes a faint murmur. The transparency \
mode is natural enough to hold a conversation without taking them off.

[[Sound quality is warm and detailed, although the bass can feel heavy on some rock \
recordings.]] The equaliser in the app helps, but it only offers five bands. Calls are clear in \
quiet rooms and less so on a windy street.

[[Battery life is the weak point: I got about 19 hours with noise cancelling on, well short of \
the advertised 30.]] The ear cushions also get warm after an hour or two. [[Overall they are a \
very good buy for frequent travellers, as long as you can live with charging them every other \
day.]]""",
    "sleep_study": """\
Sleep researchers have long suspected that screen use late in the evening affects rest, but \
studies have produced mixed results. Many relied on people remembering their own habits.

[[A new study of 1,200 teenagers that measured phone use with an app found that each hour of \
screen time after 10 pm delayed sleep by about 20 minutes.]] Participants wore wrist trackers \
for four weeks, and the app recorded when their screens were on. The team controlled for age, \
homework and caffeine.

[[The effect was strongest for social media and messaging, and weakest for watching \
videos.]] The authors think that interaction keeps the brain alert more than passive viewing. \
Reading on a screen had an effect similar to video. [[Students who lost sleep this way also \
reported worse concentration at school the next day.]]

The study has limits. It did not measure light exposure directly, and the participants all \
came from three cities. [[The researchers recommend that schools and parents encourage a \
screen-free hour before bed rather than a total ban.]]""",
    "team_meeting": """\
Notes from the product team meeting on Thursday. Present: Ana, Ben, Chiara, Dev and Emma. Ben \
took the notes.

We started with a review of the last sprint. Most tickets were closed, and the two open ones \
move to the next sprint. [[Ana reported that the beta of the new onboarding flow raised \
sign-up completion from 52 to 67 percent.]] Everyone agreed that the result was good enough to \
continue.

[[The team decided to release the new onboarding flow to all users on 3 October.]] Chiara \
raised a concern about translations, since only English and German are finished. [[Dev will \
get the French and Spanish translations done by 28 September, or the release will be limited \
to English and German.]]

We also talked about the office move. The new building has more meeting rooms but less parking. \
Emma will send a survey about desk preferences. [[The next meeting is on 5 October, when the \
team will review the first week of release data.]]""",
    "bees_explainer": """\
Bees do much more than make honey. [[About three quarters of the world's leading food crops \
depend at least partly on animal pollination, and bees are the most important pollinators.]] \
Apples, almonds, coffee and tomatoes all yield more when bees visit their flowers.

There are more than 20,000 species of bees. Only a few of them live in large colonies like \
the honey bee, and most are solitary. Some nest in the ground and others in hollow stems or \
dead wood.

[[Wild bee populations have declined in many regions over the last fifty years.]] [[Scientists \
point to several causes together: the loss of flowering habitat, pesticide use, disease and \
climate change.]] Each of these weakens colonies, and together they can be devastating. Honey \
bees kept by beekeepers are less affected because beekeepers replace lost colonies.

Gardeners can help in simple ways. [[Planting a variety of flowers that bloom from spring to \
autumn, leaving some ground bare and avoiding pesticides gives wild bees food and places to \
nest.]] Even a balcony with a few pots of herbs can make a difference.""",
}


def plain(marked: str) -> str:
    """The text without the [[ ]] marks."""
    return _MARK.sub(lambda m: m.group(1), marked)


def key_sentences(marked: str) -> list[str]:
    """The marked sentences, with whitespace normalised."""
    return [" ".join(m.group(1).split()) for m in _MARK.finditer(marked)]
