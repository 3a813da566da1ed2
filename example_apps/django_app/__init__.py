"""A minimal Django project behind connmw, for WSGI and for ASGI.

* WSGI: ``gunicorn -k gthread --threads 8 example_apps.django_app.wsgi:application``
* ASGI: ``uvicorn example_apps.django_app.asgi:application``

Routes: ``/`` (plain text, with what connmw read from the request), ``/stream/`` (a
streamed body), ``/hoppy/`` (sets hop-by-hop headers itself; connmw removes them) and
``/stats/`` (``connmw.stats()``: what connmw corrected in this process).
"""
