"""The officer UI, one module per page family; every page needs a login and a role, and every object
is looked up through the viewer's scope (compliance.access), so another family's fleet answers 404
here as in the API."""
