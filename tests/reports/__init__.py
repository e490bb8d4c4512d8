"""Tests for the report and export workbooks."""
