"""qtap-gitops domain code: the snapshot contract, stack settings and env bindings.

Pure Python with no Pulumi import, shared by the Pulumi program (`__main__.py`) and the offline
tools (`qtapctl`).
"""
