"""Reports to the Ministry of Emergency Management and raw exports (issue 5).

:mod:`feedback.reports.xlsx` turns plain Python data into .xlsx files — the official report
workbook and streamed raw exports — with no database or Flask dependency, so a request, a CLI
command or a background job can use it alike.
"""
