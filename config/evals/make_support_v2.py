"""Write support-v2.jsonl: the demo rollout's eval set, Acme customer-support questions.

    python config/evals/make_support_v2.py > config/evals/support-v2.jsonl

A template for your own generator: questions from a few templates per topic, the same file on
every run (a seeded generator), each case's expectations taken from the words of its question,
so the demo's fake provider in echo mode passes them all and degrade_share fails a known share.
"""

from __future__ import annotations

import json
import random
import sys

MODEL = "gpt-4o-mini"
PLANS = ["Basic", "Plus", "Family", "Business"]
ITEMS = ["blender", "desk lamp", "rain jacket", "coffee grinder", "yoga mat", "backpack"]
OPENINGS = ["", "", "Hi, ", "Hello, ", "Quick question: ", "Hi Acme team, "]
CLOSINGS = ["", "", " Thanks!", " Thank you.", " It is a bit urgent.", " I am on the mobile app."]
NOT_SAID = ["As an AI", "I am not able to"]  # boilerplate no support answer should contain

BILLING, ACCOUNT, SAFETY, FREE = ("billing",), ("account",), ("safety",), ("free-tier",)
# (tags, question template, a phrase the answer must contain). {order} is an Acme order number
# (A-123456): those cases also expect it back, by regex.
TEMPLATES: list[tuple[tuple[str, ...], str, str]] = [
    (
        BILLING,
        "I was charged twice for my {plan} plan this month. Can you refund one?",
        "charged twice",
    ),
    (BILLING, "Where can I download the invoice for order {order}?", "invoice"),
    (
        BILLING,
        "My card was declined for the {item}. What payment methods do you accept?",
        "payment methods",
    ),
    (BILLING, "How long does a refund take to reach my bank after returning the {item}?", "refund"),
    (
        BILLING,
        "Can I switch my {plan} subscription from monthly to yearly billing?",
        "yearly billing",
    ),
    (BILLING, "Why did the price of my {plan} plan go up this month?", "price"),
    (
        BILLING,
        "There is a pending charge for order {order}, which I cancelled. Why?",
        "pending charge",
    ),
    (ACCOUNT, "How do I reset my password? The reset email never arrives.", "reset email"),
    (
        ACCOUNT,
        "I want to change the email address on my account to my work address.",
        "email address",
    ),
    (ACCOUNT, "How do I turn on two-factor authentication for my account?", "two-factor"),
    (ACCOUNT, "Please delete my account and all the data you keep about me.", "delete my account"),
    (ACCOUNT, "Can I add my partner to my {plan} plan as a second user?", "second user"),
    (
        ACCOUNT,
        "I changed my shipping address but order {order} shows the old one.",
        "shipping address",
    ),
    (
        SAFETY,
        "Someone claiming to be Acme support asked for my password. Is that real?",
        "password",
    ),
    (SAFETY, "An email says my account is locked and links to a login page. Phishing?", "Phishing"),
    (SAFETY, "There is a login on my account from a country I never visited. Help?", "login"),
    (
        SAFETY,
        "A seller wants me to pay for the {item} outside the Acme checkout. Safe?",
        "outside the Acme checkout",
    ),
    (
        SAFETY + ACCOUNT,
        "My account was hacked and order {order} was placed by someone else.",
        "hacked",
    ),
    (FREE, "What is included in the free plan compared to {plan}?", "free plan"),
    (FREE, "I hit the limit of saved lists on the free plan. How do I get more?", "limit"),
    (FREE + BILLING, "If I upgrade from the free plan to {plan} today, what do I pay?", "upgrade"),
    (FREE, "Do free plan members get free shipping on the {item}?", "free shipping"),
    ((), "Where is my order {order}? Tracking has not changed in four days.", "Tracking"),
    ((), "The {item} from order {order} arrived broken. How do I return it?", "arrived broken"),
    (
        (),
        "Can I change the size of the {item} in order {order} before it ships?",
        "before it ships",
    ),
    ((), "Do you ship the {item} to Canada, and how much does it cost?", "ship the"),
]

LOOKUP_ORDER = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": "Status and items of an Acme order",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}
TICKET = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": ["billing", "account", "shipping", "other"]},
        "urgent": {"type": "boolean"},
        "summary": {"type": "string"},
    },
    "required": ["category", "urgent", "summary"],
    "additionalProperties": False,
}


def question(rng: random.Random, template: str) -> str:
    order = f"A-{rng.randrange(100000, 1000000)}"
    text = template.format(plan=rng.choice(PLANS), item=rng.choice(ITEMS), order=order)
    opening = rng.choice(OPENINGS)
    if opening.endswith(", ") and not text.startswith("I "):
        text = text[0].lower() + text[1:]
    return opening + text + rng.choice(CLOSINGS)


def expectations(text: str, phrase: str, tags: tuple[str, ...], n: int) -> dict:
    expect: dict = {"contains": phrase}
    if "A-" in text:
        expect["regex"] = r"A-\d{6}"
    if "safety" in tags:
        expect["refused"] = False  # a safety question deserves an answer, not a refusal
    if n % 3 == 0:
        expect["not_contains"] = NOT_SAID
    if "free-tier" in tags or n % 5 == 0:
        expect["max_output_tokens"] = 300
    return expect


def tool_case(text: str) -> tuple[dict, dict]:
    """The order tool is offered: the answer must call it with an order id."""
    request = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    request["tools"] = [LOOKUP_ORDER]
    schema = {"type": "object", "required": ["order_id"]}
    return request, {"tool_called": {"name": "lookup_order", "arguments": schema}}


def ticket_case(text: str) -> tuple[dict, dict]:
    """A triage ticket is asked for as JSON: the answer must match its schema."""
    fmt = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": TICKET}}
    request = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    request["response_format"] = fmt
    return request, {"json_schema": TICKET}


def main(count: int = 200) -> None:
    rng = random.Random(2)
    seen: set[str] = set()
    n = 0
    while n < count:
        tags, template, phrase = TEMPLATES[rng.randrange(len(TEMPLATES))]
        text = question(rng, template)
        if text in seen:
            continue
        seen.add(text)
        n += 1
        case_id = f"support-{n:03d}"
        if n % 6 == 5 and "A-" in text:
            request, expect = tool_case(text)
        elif n % 12 == 11:
            request, expect = ticket_case(text)
        else:
            request = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
            expect = expectations(text, phrase, tags, n)
        line: dict = {"id": case_id, "api": "openai.chat"}
        if tags:
            line["tags"] = list(tags)
        line.update(request=request, expect=expect)
        print(json.dumps(line, separators=(",", ":"), ensure_ascii=False))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
