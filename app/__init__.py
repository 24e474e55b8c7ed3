"""Streamlit-side helpers for the dashboard pages (the nn package never imports Streamlit)."""
