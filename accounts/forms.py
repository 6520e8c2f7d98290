"""Staff login form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."),
                                                    Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."),
                                                     Length(max=1000)])
    code = StringField("Code from your authenticator app", validators=[
        DataRequired("Enter the 6-digit code from your authenticator app."), Length(max=12)])


class LogoutForm(FlaskForm):
    pass
