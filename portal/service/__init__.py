"""The portal's logic, without Streamlit: a page asks `Portal` (portal.service.portal) with its session token and
gets only what that person may see or do; tenancy is decided once, in `tenancy.py`."""
