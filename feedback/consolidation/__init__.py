"""Consolidated suggestions (汇总建议): staff text standing for several source submissions."""
