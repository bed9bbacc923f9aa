"""The HTTP boundary: typed API endpoints, errors, middleware, CSRF, pages."""
