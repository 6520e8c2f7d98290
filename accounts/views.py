"""Staff login and logout, and the per-request session check for the staff app."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from accounts import services
from accounts.forms import LoginForm, LogoutForm, PasswordChangeForm, RotateKeysForm
from core.web import db, settings

bp = Blueprint("accounts", __name__, template_folder="templates")


F = TypeVar("F", bound=Callable[..., Any])


def load_staff_session() -> None:
    """Resume the staff session named by the cookie, if it is still valid."""
    g.identity = None
    token = session.get("token")
    if token:
        g.identity = services.resume_session(db(), token=token, settings=settings())
        db().commit()
        if g.identity is None:
            session.clear()


def require_role(*roles: str) -> Callable[[F], F]:
    """Only logged-in, enabled staff with one of ``roles`` may use the view."""
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            identity = g.get("identity")
            if identity is None:
                # request.path lacks the /staff mount point: next must be the full path, and
                # keeps its query string (an inbox's filters, a results query).
                here = request.script_root + request.full_path.rstrip("?")
                if request.method == "POST" and _typed(request.form):
                    return _login_page(LoginForm(formdata=None, next=here,
                                                 kept=json.dumps(_typed(request.form))), 401)
                return redirect(url_for("accounts.login", next=here))
            if identity.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped  # type: ignore[return-value]
    return decorator


@bp.app_context_processor
def _layout() -> dict[str, object]:
    identity = g.get("identity")
    links: list[tuple[str, str]] = []
    if identity is not None and identity.user.is_guardian:
        links = [(url_for("guardian.inbox"), "Cases"), (url_for("guardian.export"), "NGO return"),
                 (url_for("guardian.themes_overview"), "Themes"),
                 (url_for("guardian.audit_log"), "Audit log"),
                 (url_for("accounts.account"), "Account")]
    elif identity is not None and identity.user.role == "edi":
        links = [(url_for("edi.index"), "Surveys"), (url_for("edi_themes.summary"), "Themes"),
                 (url_for("workforce.index"), "Workforce"), (url_for("accounts.account"), "Account")]
    elif identity is not None and identity.user.role == "board":
        links = [(url_for("workforce.index"), "Workforce equality"),
                 (url_for("accounts.account"), "Account")]
    return {"service_name": "Speak Up: staff", "service_home_url": url_for("accounts.home"),
            "header_links": links, "identity": identity, "logout_form": LogoutForm(),
            "privacy_url": "/privacy"}


@bp.get("/")
def home() -> Any:
    identity = g.get("identity")
    if identity is None:
        return redirect(url_for("accounts.login"))
    home_of = {"edi": "edi.index", "board": "workforce.index"}
    return redirect(url_for(home_of.get(identity.user.role, "guardian.inbox")))


def _typed(form: Any) -> dict[str, str | list[str]]:
    """What a form sent after the session ended carried (not its CSRF token, never files)."""
    return {name: (values if len(values) > 1 else values[0])
            for name, values in form.lists() if name != "csrf_token" and any(values)}


def _safe_next(value: str | None) -> str | None:
    """``next`` only ever leads to a page of this staff app."""
    root = request.script_root + "/"
    if value and value.startswith(root) and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _kept(form: LoginForm) -> dict[str, Any]:
    try:
        kept = json.loads(form.kept.data or "{}")
    except ValueError:
        return {}
    return kept if isinstance(kept, dict) else {}


def _login_page(form: LoginForm, status: int) -> Any:
    form.password.data = ""
    form.code.data = ""
    return render_template("accounts/login.html", form=form, kept=_kept(form)), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if not form.is_submitted():
        form.next.data = request.args.get("next", "")
    status = 200
    if form.validate_on_submit():
        try:
            if "\x00" in (form.email.data or ""):  # no account has one; PostgreSQL refuses it
                raise services.LoginError
            user, private_key = services.authenticate(
                db(), email=form.email.data or "", password=form.password.data or "",
                code=form.code.data or "", settings=settings())
        except services.AccountLockedError:
            form.form_errors.append("This account is locked after too many failed attempts. "
                                    "Try again in 15 minutes.")
            status = 429
        except services.LoginError:
            form.form_errors.append("The email, password or code is not right. Check them and "
                                    "try again.")
            status = 400
        else:
            token = services.start_session(db(), user=user, private_key=private_key)
            db().commit()
            session.clear()
            session["token"] = token
            target = _safe_next(form.next.data)
            kept = _kept(form)
            if target and kept:
                # Not sent again on its own: shown, with a fresh form, to check and send. (The
                # request's cached CSRF token belongs to the session just cleared.)
                g.pop("csrf_token", None)
                return render_template("accounts/kept.html", action=target, kept=kept,
                                       form=LogoutForm())
            return redirect(target or url_for("accounts.home"))
    elif form.is_submitted():
        status = 400
    return _login_page(form, status)


@bp.route("/account", methods=["GET", "POST"])
def account() -> Any:
    """Your account: key fingerprints to compare out of band, password change, key rotation."""
    identity = g.get("identity")
    if identity is None:
        return redirect(url_for("accounts.login", next=request.script_root + request.path))
    password_form = PasswordChangeForm(prefix="pw")
    rotate_form = RotateKeysForm(prefix="rot")
    status = 200
    recovery_key = None
    if request.method == "POST" and "pw-new" in request.form:
        if password_form.validate_on_submit():
            try:
                services.change_password(db(), identity=identity,
                                         current_password=password_form.current.data or "",
                                         new_password=password_form.new.data or "",
                                         settings=settings())
                db().commit()
            except (services.LoginError, services.WeakPasswordError) as e:
                db().rollback()
                (password_form.current if isinstance(e, services.LoginError)
                 else password_form.new).errors = [str(e)]
                status = 400
            else:
                flash("Your password has been changed. Other sessions have been signed out.",
                      "success")
                return redirect(url_for("accounts.account"))
        else:
            status = 400
    elif request.method == "POST":
        if rotate_form.validate_on_submit():
            try:
                rotation = services.rotate_keys(
                    db(), identity=identity, password=rotate_form.password.data or "",
                    settings=settings(),
                    resealers=current_app.extensions["speakup.resealers"])
                db().commit()
            except services.LoginError as e:
                db().rollback()
                rotate_form.password.errors = [str(e)]
                status = 400
            else:
                session.clear()
                session["token"] = rotation.identity.session_token
                g.identity = rotation.identity
                identity = rotation.identity
                recovery_key = rotation.recovery_key
        else:
            status = 400
    password_form.current.data = password_form.new.data = ""
    rotate_form.password.data = ""
    return render_template("accounts/account.html", identity=identity,
                           password_form=password_form, rotate_form=rotate_form,
                           recovery_key=recovery_key, keys=services.key_list(db(), settings())), \
        status


@bp.post("/logout")
def logout() -> Any:
    form = LogoutForm()
    if form.validate_on_submit() and session.get("token"):
        services.end_session(db(), token=session["token"])
        db().commit()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("accounts.login"))
