"""The HTTP boundary: typed API endpoints, errors, middleware, CSRF, pages."""

from starlette.convertors import register_url_convertor

from expo.http.inputs import IdConvertor

# Routes compile their paths when their modules are imported, and every module that declares
# routes imports this package first: from here on, ``{name:int}`` is an id the store can hold
# (tests/test_boundary.py checks that every route's int parameter uses it).
register_url_convertor("int", IdConvertor())
