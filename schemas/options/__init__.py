"""Stage option models (pydantic), one module per area; the recipe composes them."""
