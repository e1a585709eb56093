"""Reinforcement learning for soclab: the scheduling env under RLlib, graph neural schedulers,
training, tuning, and trained checkpoints used as ordinary dssoc schedulers.

Ray and torch are imported lazily by the submodules that need them; `soclab.rl.nets` and
`soclab.rl.policy` never start Ray.
"""
