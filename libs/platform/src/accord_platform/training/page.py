"""The debrief as a page: one self-contained HTML page per trainee (GOV.UK Design System class
names, no script), for the trainer to go through with the trainee or print. It holds scenario
titles, fact names, codes and the practice explanations, never a synthetic person's details."""

from __future__ import annotations

from html import escape

from accord_platform.training.debrief import Debrief

STYLE = (
    "body{font-family:Arial,sans-serif;margin:2em;max-width:60em;color:#0b0c0c}"
    ".banner{border:5px solid #1d70b8;padding:1em;margin-bottom:2em}"
    ".banner h2{margin:0;color:#1d70b8}.difference{color:#942514}.none{color:#00703c}"
    "code{background:#f3f2f1;padding:0 .2em}"
)


def render_page(trainee: str, reports: list[Debrief]) -> str:
    sections = []
    for report in reports:
        if report.differences:
            found = "".join(
                f'<li class="govuk-body difference">{escape(d.explanation)}'
                + (
                    " <strong>The platform refuses this path.</strong>"
                    if d.refused_by_platform
                    else ""
                )
                + f" <code>{escape(d.fact)}</code>: expected"
                f" <code>{escape(str(d.expected))}</code>,"
                f" found <code>{escape(str(d.found))}</code></li>"
                for d in report.differences
            )
            outcome = f'<ul class="govuk-list govuk-list--bullet">{found}</ul>'
        else:
            outcome = '<p class="govuk-body none">Played as the scenario expects.</p>'
        points = "".join(f"<li>{escape(p)}</li>" for p in report.practice_points)
        timeline = "".join(f"<li><code>{escape(t)}</code></li>" for t in report.timeline)
        sections.append(
            f'<section id="{escape(report.scenario)}">'
            f'<h2 class="govuk-heading-l">{escape(report.title)}</h2>{outcome}'
            f'<h3 class="govuk-heading-m">Practice points</h3>'
            f'<ul class="govuk-list govuk-list--bullet">{points}</ul>'
            f"<details><summary>What the audit log recorded ({len(report.timeline)} events)"
            f"</summary><ol>{timeline}</ol></details></section>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Debrief: {escape(trainee)} (training)</title><style>{STYLE}</style></head>"
        '<body class="govuk-template__body"><div class="govuk-notification-banner banner" '
        'role="region" aria-labelledby="training-banner-title">'
        '<h2 class="govuk-notification-banner__title" id="training-banner-title">Training</h2>'
        "<p>A debrief of a training deployment. Every person and case in it is made up.</p>"
        f'</div><h1 class="govuk-heading-xl">Debrief: {escape(trainee)}</h1>'
        + "".join(sections)
        + "</body></html>"
    )
