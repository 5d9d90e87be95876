"""The central portal: `service/` holds every decision (accounts, leases, tenancy, live data, history, commands,
alarms, audit) and imports no Streamlit; `app/` holds the thin Streamlit pages that ask the service only for what
the signed-in person may see (DESIGN.md; README § Portal)."""
