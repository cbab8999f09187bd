"""Print the emails of whoever is on call now for PagerDuty schedules, one per line (grantflow `oncall:` command).

    oncall:
      primary-sre:
        command: [python3, scripts/pagerduty_oncall.py, --schedule, PABC123]
        env: [PAGERDUTY_TOKEN]          # a read-only REST API key
        timeout: 10

It calls PagerDuty's REST API "List all of the on-calls" (`GET /oncalls`) with `schedule_ids[]`,
`earliest=true` (one entry per escalation level and schedule: the current on-call) and `include[]=users`
(so each entry's `user` carries its `email`), and prints every distinct email. Exit 0 with at least one
email; otherwise exit 1 with one line on stderr, and grantflow falls back to human approval.

Environment: PAGERDUTY_TOKEN (required); PAGERDUTY_API_URL (default https://api.pagerduty.com, e.g. a
regional or test endpoint). Standard library only: it runs under any Python 3 without grantflow installed.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_API = "https://api.pagerduty.com"


def fail(message: str) -> None:
    print(f"pagerduty_oncall: {message}", file=sys.stderr)
    sys.exit(1)


def on_call_emails(api: str, token: str, schedules: list[str], timeout: float) -> list[str]:
    query = [("schedule_ids[]", s) for s in schedules] + [("earliest", "true"), ("include[]", "users")]
    url = f"{api.rstrip('/')}/oncalls?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(
        url,
        headers={
            "Authorization": f"Token token={token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:200]
        fail(f"PagerDuty answered {exc.code}: {detail}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        fail(f"cannot reach {api}: {exc}")
    except json.JSONDecodeError:
        fail("PagerDuty's answer is not JSON")
    emails = []
    for entry in body.get("oncalls", []):
        user = entry.get("user") or {}
        email = user.get("email")
        if isinstance(email, str) and "@" in email and email.lower() not in emails:
            emails.append(email.lower())
    return emails


def main() -> None:
    parser = argparse.ArgumentParser(description="Print who is on call now for PagerDuty schedules.")
    parser.add_argument("--schedule", action="append", required=True, help="a PagerDuty schedule id (repeatable)")
    parser.add_argument("--timeout", type=float, default=8.0, help="seconds to wait for PagerDuty")
    args = parser.parse_args()
    token = os.environ.get("PAGERDUTY_TOKEN", "")
    if not token:
        fail("PAGERDUTY_TOKEN is not set (list it under the schedule's env: in grantflow.yml)")
    emails = on_call_emails(os.environ.get("PAGERDUTY_API_URL", DEFAULT_API), token, args.schedule, args.timeout)
    if not emails:
        fail(f"nobody is on call for {', '.join(args.schedule)}")
    print("\n".join(emails))


if __name__ == "__main__":
    main()
