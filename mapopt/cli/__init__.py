"""The ``mapopt`` command line. Every module here that defines ``register(app)`` adds commands."""
