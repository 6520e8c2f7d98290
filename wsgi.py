"""WSGI entry point: ``gunicorn -c config/gunicorn.conf.py wsgi:app``."""

from core import configure_logging, create_app

configure_logging()
app = create_app()
