"""The catalogue: the ``Catalogue`` protocol, its embedded (SQLModel) and HTTP
implementations, and the ScaiPersona-compatible REST app.

Import the parts from their modules (``catalogue.factory.open_catalogue``,
``catalogue.embedded.EmbeddedCatalogue``, ``catalogue.client.HttpCatalogue``,
``catalogue.rest.create_app``, ``catalogue.serve.serve_in_thread``).
"""
