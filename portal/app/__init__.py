"""Thin Streamlit pages of the portal: each asks portal.service for what the signed-in person may see."""
