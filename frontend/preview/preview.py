"""Throwaway preview of layout.html and the form/component macros.

    bash frontend/build.sh
    .venv/bin/python frontend/preview/preview.py            # checks + screenshots
    .venv/bin/python frontend/preview/preview.py --serve    # just serve it

The check mode starts the app on 127.0.0.1 (free port) with the production
CSP, then with Playwright + /usr/bin/chromium:
  - fails if any request goes to a host other than 127.0.0.1,
  - fails on console errors / CSP violations / page errors,
  - checks the page with JavaScript disabled (print button stays hidden,
    content readable) and enabled (print button shown, components initialised),
  - runs axe-core and fails on serious/critical violations,
  - saves full-page screenshots to /tmp/frontend-shots/.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from flask import Flask, flash, render_template, request
from flask_wtf import FlaskForm
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.datastructures import MultiDict
from werkzeug.serving import make_server
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHOTS = Path("/tmp/frontend-shots")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class ConcernForm(FlaskForm):
    step = HiddenField(default="1")
    concern = TextAreaField(
        "Describe your concern",
        validators=[InputRequired("Describe your concern"), Length(max=5000)],
    )
    category = RadioField(
        "What is your concern about?",
        choices=[("safety", "Patient safety"), ("bullying", "Bullying or harassment"), ("other", "Something else")],
        validators=[InputRequired("Select what your concern is about")],
    )
    reported_before = RadioField(
        "Have you raised this before?", choices=[("yes", "Yes"), ("no", "No")], validators=[Optional()]
    )
    where = SelectMultipleField(
        "Where did it happen?",
        choices=[("ward", "On a ward"), ("theatre", "In theatre"), ("community", "In the community")],
        validators=[Optional()],
    )
    site = SelectField("Which site?", choices=[("", "Choose a site"), ("north", "North Hospital"), ("south", "South Hospital")], validators=[Optional()])
    month = SelectField(
        "When did it happen?",
        choices=[("2026-11", "November 2026"), ("2026-10", "October 2026"), ("2026-09", "September 2026")],
    )
    evidence = MultipleFileField("Upload documents", validators=[Optional()])
    reference = StringField("Reference number", validators=[DataRequired("Enter your reference number")])
    contact = StringField(
        "Email address for replies",
        validators=[Optional(), Regexp(r"^[^@\s]+@[^@\s]+$", message="Enter an email address in the correct format, like name@example.com")],
    )
    confirm = BooleanField("I have saved my receipt")


def create_app() -> Flask:
    app = Flask(
        __name__,
        static_folder=str(ROOT / "core" / "static"),
        template_folder=str(ROOT / "core" / "templates"),
    )
    app.config.update(SECRET_KEY=secrets.token_hex(32), WTF_CSRF_ENABLED=False)
    app.jinja_loader = ChoiceLoader(
        [FileSystemLoader(str(HERE / "templates")), FileSystemLoader(str(ROOT / "core" / "templates"))]
    )

    @app.after_request
    def security_headers(response):
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.route("/", methods=["GET", "POST"])
    def preview():
        state = request.args.get("state", "errors")
        if request.method == "POST":
            form = ConcernForm()
            form.validate_on_submit()
        elif state == "clean":
            form = ConcernForm(formdata=None)
        else:
            # Pretend a submission came back with errors (values kept).
            form = ConcernForm(
                formdata=MultiDict(
                    [
                        ("step", "1"),
                        ("concern", ""),
                        ("reported_before", "no"),
                        ("where", "ward"),
                        ("where", "community"),
                        ("site", "south"),
                        ("month", "2026-10"),
                        ("reference", ""),
                        ("contact", "not-an-email"),
                        ("confirm", "y"),
                    ]
                )
            )
            form.validate()
            form.form_errors.append("Your session expired. Check your answers and send again.")
            flash("Your draft was saved", "success")
            flash("You can leave this page and come back using your receipt.", "info")
        return render_template(
            "preview.html",
            form=form,
            service_name="Speak Up",
            service_home_url="/?state=clean",
            header_links=[("/", "Preview"), ("/?state=clean", "Clean form"), ("#about", "About")],
            about_url="/about",
        )

    return app


def serve(app: Flask, port: int = 0):
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def check(base: str) -> int:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    axe = ROOT / "node_modules" / "axe-core" / "axe.min.js"

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )

        def run(name, url, width, height, js=True, media=None, full=True):
            ctx = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=js)
            page = ctx.new_page()
            requests, console = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
            response = page.goto(url, wait_until="networkidle")
            if response is None or response.status != 200:
                problems.append(f"{name}: HTTP {response and response.status}")
            if media:
                page.emulate_media(media=media)
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)
            for u in requests:
                host = urlparse(u).hostname
                if urlparse(u).scheme not in ("data", "blob") and host != "127.0.0.1":
                    problems.append(f"{name}: request to another host: {u}")
            for kind, text in console:
                if kind in ("error", "pageerror", "warning") or "Content Security Policy" in text:
                    problems.append(f"{name}: console {kind}: {text}")
            print(f"{name}: {len(requests)} requests, all to 127.0.0.1" if all(
                urlparse(u).hostname == "127.0.0.1" for u in requests) else f"{name}: EXTERNAL REQUESTS")
            return ctx, page

        # Desktop and phone, JS on.
        for name, w, h in (("desktop", 1280, 900), ("phone", 390, 844)):
            ctx, page = run(name, base + "/", w, h)
            if not page.is_visible("button[data-print]"):
                problems.append(f"{name}: print button not shown with JS")
            classes = page.evaluate("document.body.className")
            if "nhsuk-frontend-supported" not in classes:
                problems.append(f"{name}: body lacks nhsuk-frontend-supported ({classes})")
            if not page.locator("[data-nhsuk-character-count-init]").count():
                problems.append(f"{name}: character count not initialised")
            if name == "desktop":
                focused = page.evaluate("document.activeElement.className")
                if "nhsuk-error-summary" not in focused:
                    problems.append(f"{name}: error summary not focused on load (focus on {focused!r})")
            font = page.evaluate("getComputedStyle(document.body).fontFamily")
            if "arial" not in font.lower():
                problems.append(f"{name}: body font is {font}")
            ctx.close()

        ctx, page = run("phone-clean", base + "/?state=clean", 390, 844)
        ctx.close()

        # axe-core: injecting it is an inline script, which our CSP (rightly)
        # blocks, so these contexts bypass the CSP.
        for label, url, w, h in (
            ("errors/desktop", "/", 1280, 900),
            ("errors/phone", "/", 390, 844),
            ("clean/desktop", "/?state=clean", 1280, 900),
        ):
            ctx = browser.new_context(viewport={"width": w, "height": h}, bypass_csp=True)
            page = ctx.new_page()
            page.goto(base + url, wait_until="networkidle")
            page.add_script_tag(path=str(axe))
            result = page.evaluate("axe.run()")
            for v in result["violations"]:
                # Known upstream quirk: nhsuk-frontend's file upload JS builds a
                # <button aria-labelledby="label comma self"> whose visually
                # hidden ", " splits the visible text, which axe reports as
                # label-content-name-mismatch. Not from our markup.
                v["nodes"] = [
                    n for n in v["nodes"]
                    if not (v["id"] == "label-content-name-mismatch" and "nhsuk-file-upload__drop-button" in n["html"])
                ]
                if not v["nodes"]:
                    print(f"axe {label} (ignored, upstream nhsuk file upload JS): {v['id']}")
                    continue
                line = f"axe {label} {v['impact']}: {v['id']}: {v['help']} -> " + "; ".join(
                    json.dumps(n["target"]) for n in v["nodes"][:5]
                )
                print(line)
                if v["impact"] in ("serious", "critical"):
                    problems.append(line)
            print(f"axe {label}: {len(result['violations'])} violations, {len(result['passes'])} rules passed")
            ctx.close()

        # JavaScript off: readable, print button hidden, no errors.
        ctx, page = run("desktop-nojs", base + "/", 1280, 900, js=False)
        for path in ("/", "/?state=clean"):
            with urllib.request.urlopen(base + path) as resp:
                served = resp.read().decode()
            m = re.search(r"\sstyle=|\son[a-z]+=|<script(?![^>]*\ssrc=)", served)
            if m:
                problems.append(f"{path}: inline style/script/event handler in the served HTML: {served[m.start() - 80:m.end() + 40]!r}")
        if page.is_visible("button[data-print]"):
            problems.append("nojs: print button visible without JS")
        if not page.is_visible("#concern-info"):
            problems.append("nojs: character count hint not visible")
        ctx.close()
        ctx, page = run("phone-nojs", base + "/", 390, 844, js=False)
        ctx.close()

        # Print stylesheet.
        ctx, page = run("print", base + "/?state=clean", 1280, 900, media="print")
        for sel in (".nhsuk-header", ".nhsuk-footer", "button"):
            if page.locator(sel).first.is_visible():
                problems.append(f"print: {sel} visible")
        if not page.is_visible(".speakup-receipt"):
            problems.append("print: receipt hidden")
        page.pdf(path=str(SHOTS / "print.pdf"))
        ctx.close()

        browser.close()

    print("screenshots:", ", ".join(sorted(str(s) for s in SHOTS.glob("*.png"))))
    if problems:
        print("\nPROBLEMS:")
        for prob in problems:
            print(" -", prob)
        return 1
    print("OK: no external requests, no console errors/CSP violations, no serious/critical axe violations")
    return 0


def main() -> int:
    if not (ROOT / "core" / "static" / "css" / "speakup.css").exists():
        print("run `bash frontend/build.sh` first", file=sys.stderr)
        return 1
    app = create_app()
    if "--serve" in sys.argv:
        port = int(os.environ.get("PORT", "5050"))
        print(f"http://127.0.0.1:{port}/")
        app.run(host="127.0.0.1", port=port)
        return 0
    server = serve(app)
    try:
        return check(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
