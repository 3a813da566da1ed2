"""A minimal Django project for the framework tests: served by django_asgi, django_wsgi, channels_app."""
