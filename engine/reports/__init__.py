"""The rhythm's figures: 周计划、旬调度、月总结 reports, their workbooks, the dashboard."""
