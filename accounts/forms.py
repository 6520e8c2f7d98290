"""Staff login form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."),
                                                    Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."),
                                                     Length(max=1000)])
    code = StringField("Code from your authenticator app", validators=[
        DataRequired("Enter the 6-digit code from your authenticator app."), Length(max=12)])
    # Where to go after signing in (a staff page, with its query string), and what was typed
    # on a form sent after the session had ended (JSON of its fields), to be offered again.
    next = HiddenField(validators=[Optional(), Length(max=2000)])
    kept = HiddenField(validators=[Optional(), Length(max=60_000)])


class LogoutForm(FlaskForm):
    pass


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Your current password", validators=[
        DataRequired("Enter your current password."), Length(max=1000)])
    new = PasswordField("New password", validators=[
        DataRequired("Enter a new password."), Length(max=1000)])


class RotateKeysForm(FlaskForm):
    password = PasswordField("Your password", validators=[
        DataRequired("Enter your password to confirm."), Length(max=1000)],
        id="rotate-password")
