"""Django settings for running on AWS Lambda behind lambda-adapter: no database, no sessions,
nothing written to disk (only /tmp is writable there), configuration from the environment."""

import os

DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
# Set DJANGO_SECRET_KEY in the function's environment (or from a secret) for anything that signs.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-example-key-set-DJANGO_SECRET_KEY")
# The Host header is the one the client sent: a Function URL's (*.on.aws), API Gateway's
# (*.amazonaws.com), or yours (add it here); localhost for the adapter's readiness check.
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", ".on.aws .amazonaws.com localhost 127.0.0.1").split()

INSTALLED_APPS = ["shop"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
DATABASES = {}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
USE_TZ = True
# API Gateway and Function URLs terminate TLS; the adapter passes X-Forwarded-Proto on.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
