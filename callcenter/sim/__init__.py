"""The simulated Asterisk 22 (ARI + AMI) and the synthetic callers and agents that use it.

Start here: ``callcenter.sim.pbx`` (the PBX core and its public API) and
``callcenter.sim.ari_server.start_ari_server``.
"""
