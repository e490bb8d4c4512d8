"""Reports to the ministry (汇总报告) and raw exports: compile, freeze, version, send; and the
workbook-writing layer (``xlsx``) they share."""
