"""Reinforcement learning on gymnax: PPO and REINFORCE, many seeds at once."""
