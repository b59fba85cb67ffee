"""Reinforcement learning: an agent network trained episode by episode (2024 paper, Table S5).

The bottom-up network is the agent: a tanh MLP from the (scaled) observation to action
logits (discrete) or to an action mean (continuous, squashed into the action range by
max_action x tanh). Each inner step plays a batch of episodes in a gymnax environment with
the current agent (exploring: sampled actions, or Gaussian noise around the mean), and
every time step of every episode is one row of the credit network's input: [observation,
what the agent emitted, the action it took, the advantage]. The advantage is the
discounted reward-to-go less its mean over the episodes alive at that time step, scaled by
its spread (``advantages``). The credit network emits one credit per neuron for that row
and each neuron applies the local rule, averaged over the time steps the episodes were
alive. The fitness is the greedy agent's return after M inner steps.

How this differs from the paper (which gives no more detail): the paper's credit network
is recurrent and reads a whole episode to emit one credit per parameter; here it is the
library's feed-forward credit network, applied per time step with the advantage as its
view of the future, emitting per-neuron credits as in every other task. The batch of
episodes plays the role of the batch of images.

BP is REINFORCE (the paper's "Policy Gradient" row): minus the mean of
log pi(a|s) x advantage, differentiated by ``jax.grad``; its output error
(``taps_and_error``) gives FA and DFA on the same footing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from tdca.networks.mlp import MLP, LayerTap, Params


@dataclass(frozen=True)
class EnvSpec:
    """What the task needs to know of a gymnax environment."""

    gym_id: str
    obs_scale: tuple[float, ...]  # the agent and the credit network read obs / obs_scale
    num_actions: int = 0  # > 0: discrete actions; 0: one continuous action in +-max_action
    max_action: float = 0.0

    @property
    def discrete(self) -> bool:
        return self.num_actions > 0

    @property
    def obs_dim(self) -> int:
        return len(self.obs_scale)

    @property
    def outputs(self) -> int:
        return self.num_actions if self.discrete else 1


ENVS: dict[str, EnvSpec] = {
    # Scales: CartPole's position limit 2.4, typical velocities ~2, pole angle limit 0.21 rad.
    "cartpole": EnvSpec("CartPole-v1", (2.4, 2.0, 0.21, 2.0), num_actions=2),
    # Pendulum's observation is (cos, sin, angular velocity in +-8); torque in +-2.
    "pendulum": EnvSpec("Pendulum-v1", (1.0, 1.0, 8.0), max_action=2.0),
}
"""Environments by the name the command line takes, played for ``horizon`` (200) steps as
in the paper's Table S5, where CartPole's return is out of 200 and Pendulum's lies in
[-3254.7, 0]. The paper names Pendulum-v0: gym's v1 rewrote its equations without changing
its dynamics or reward, and gymnax's Pendulum-v1 follows it."""


def env_spec(name: str) -> EnvSpec:
    if name not in ENVS:
        raise ValueError(f"unknown environment {name!r}; choose one of {sorted(ENVS)}")
    return ENVS[name]


@functools.cache
def make_env(gym_id: str) -> tuple[Any, Any]:
    """The gymnax environment and its default parameters (imported on first use: gymnax
    and its dependencies are only needed by RL)."""
    import gymnax

    return gymnax.make(gym_id)


class Episodes(NamedTuple):
    """A batch of episodes, time-major: every array is (T, E, ...)."""

    obs: jax.Array  # scaled observations the agent read
    actions: jax.Array  # discrete: int (T, E); continuous: the sampled action (T, E, 1)
    rewards: jax.Array  # 0 after an episode ended
    alive: jax.Array  # 1 while the episode runs (the step's reward counts), then 0


@struct.dataclass
class RLTask:
    """Train an agent ``model`` on environment ``env`` (a key of ``ENVS``)."""

    model: MLP = struct.field(pytree_node=False)
    env: str = struct.field(pytree_node=False, default="cartpole")
    episodes: int = struct.field(pytree_node=False, default=8)  # per inner step
    horizon: int = struct.field(pytree_node=False, default=200)
    discount: float = struct.field(pytree_node=False, default=0.99)
    action_std: float = struct.field(pytree_node=False, default=0.5)  # continuous exploration
    fitness_episodes: int = struct.field(pytree_node=False, default=8)
    init_scheme: str = struct.field(pytree_node=False, default="zero")
    name: str = struct.field(pytree_node=False, default="rl")

    @classmethod
    def create(cls, env: str, hidden: tuple[int, ...] = (16,), **options: Any) -> RLTask:
        """Validated constructor: the agent sized for ``env``."""
        spec = env_spec(env)
        for field in ("episodes", "horizon", "fitness_episodes"):
            value = options.get(field, 1)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{field} must be an integer >= 1, got {value!r}")
        if not 0.0 < float(options.get("discount", 0.99)) <= 1.0:
            raise ValueError(f"discount must be in (0, 1], got {options['discount']!r}")
        if not float(options.get("action_std", 0.5)) > 0.0:
            raise ValueError(f"action_std must be > 0, got {options['action_std']!r}")
        model = MLP((spec.obs_dim, *hidden, spec.outputs))
        return cls(model=model, env=env, **options)

    @property
    def spec(self) -> EnvSpec:
        return env_spec(self.env)

    @property
    def credit_input_dim(self) -> int:
        return self.spec.obs_dim + 2 * self.spec.outputs + 1

    @property
    def credit_units(self) -> tuple[int, ...]:
        return self.model.units

    def init_params(self, key: jax.Array) -> Params:
        return self.model.init(key, self.init_scheme)

    def batch(self, key: jax.Array, step: jax.Array) -> jax.Array:
        """The key the step's episodes are played with."""
        return jax.random.fold_in(key, step)

    # --- playing -------------------------------------------------------------------------

    def play(self, theta: Params, key: jax.Array, episodes: int, greedy: bool) -> Episodes:
        """``episodes`` episodes of ``horizon`` steps with agent ``theta`` (a scan over time,
        the episodes vmapped)."""
        spec = self.spec
        env, params = make_env(spec.gym_id)
        scale = jnp.asarray(spec.obs_scale, jnp.float32)
        k_reset, k_run = jax.random.split(key)
        obs, state = jax.vmap(env.reset, (0, None))(jax.random.split(k_reset, episodes), params)

        def step(carry, k):
            obs, state, alive = carry
            x = obs / scale
            out = self.model.apply(theta, x)
            k_act, k_env = jax.random.split(k)
            if spec.discrete:
                action = jnp.argmax(out, -1) if greedy else jax.random.categorical(k_act, out, -1)
                env_action = action
            else:
                noise = 0.0 if greedy else self.action_std * jax.random.normal(k_act, out.shape)
                action = self.mean_action(out) + noise
                env_action = jnp.clip(action[:, 0], -spec.max_action, spec.max_action)
            keys = jax.random.split(k_env, episodes)
            # step_env: the transition without gymnax's auto-reset (which would compute a
            # reset every step); an ended episode runs on unseen, masked out by ``alive``.
            obs2, state2, reward, done, _ = jax.vmap(env.step_env, (0, 0, 0, None))(
                keys, state, env_action, params
            )
            record = (x, action, reward.astype(jnp.float32) * alive, alive)
            return (obs2, state2, alive * (1.0 - done.astype(jnp.float32))), record

        alive0 = jnp.ones((episodes,), jnp.float32)
        _, (xs, actions, rewards, alive) = jax.lax.scan(
            step, (obs, state, alive0), jax.random.split(k_run, self.horizon)
        )
        return Episodes(xs, actions, rewards, alive)

    def returns(self, ep: Episodes) -> jax.Array:
        """Each episode's undiscounted return (E,)."""
        return jnp.sum(ep.rewards, 0)

    def advantages(self, ep: Episodes) -> jax.Array:
        """Discounted reward-to-go less its mean over the episodes alive at the same time
        step, divided by its spread over all live steps (T, E; 0 where an episode ended):
        REINFORCE's usual time-dependent baseline, and the credit network's view of the
        future. A baseline per time step because the reward-to-go shrinks along an episode
        whatever the agent does: one mean for all steps would credit every early action.
        The mean includes the episode's own value, so a step's advantages are those of a
        leave-one-out baseline times (n - 1) / n, and a lone survivor's are 0."""

        def back(g, r):
            g = r + self.discount * g
            return g, g

        _, togo = jax.lax.scan(back, jnp.zeros_like(ep.rewards[0]), ep.rewards, reverse=True)
        # Differences from one live episode's value first, so that equal values (a solved
        # CartPole: every episode alive to the horizon) give exactly 0, not rounding error
        # that the division by the spread would blow up to unit size.
        live = ep.alive > 0
        ref = jnp.max(jnp.where(live, togo, -jnp.inf), 1, keepdims=True)
        gap = jnp.where(live, togo - jnp.where(jnp.isfinite(ref), ref, 0.0), 0.0)
        live_now = jnp.maximum(jnp.sum(ep.alive, 1, keepdims=True), 1.0)
        centred = (gap - jnp.sum(gap, 1, keepdims=True) / live_now) * ep.alive
        std = jnp.sqrt(jnp.sum(centred**2) / jnp.maximum(jnp.sum(ep.alive), 1.0))
        return centred / (std + 1e-6)

    def _rows(self, theta: Params, key: jax.Array) -> tuple[Episodes, jax.Array, jax.Array]:
        """Exploring episodes, flattened to rows: (episodes, advantage, row weight). A row's
        weight is alive x rows / live rows, so a mean over all rows is one over live steps."""
        ep = self.play(jax.lax.stop_gradient(theta), key, self.episodes, greedy=False)
        adv = self.advantages(ep).reshape(-1)
        alive = ep.alive.reshape(-1)
        weight = alive * alive.shape[0] / jnp.maximum(jnp.sum(alive), 1.0)
        return ep, adv, weight

    def mean_action(self, out: jax.Array) -> jax.Array:
        """A continuous agent's mean action: ``max_action * tanh(out)``, inside the range the
        environment takes. Unbounded, an agent can learn means far outside it that the
        environment clips, where its exploration noise no longer changes the torque applied
        and so says nothing about the reward."""
        return self.spec.max_action * jnp.tanh(out)

    def _policy_terms(self, out: jax.Array, ep: Episodes) -> tuple[jax.Array, jax.Array]:
        """(what the agent emitted, the action taken) as the credit network reads them, and
        the output error -dLoss/dout per row (before the advantage and the row weight)."""
        spec = self.spec
        if spec.discrete:
            p = jax.nn.softmax(out)
            taken = jax.nn.one_hot(ep.actions.reshape(-1), spec.num_actions)
            return jnp.concatenate([p, taken], -1), taken - p
        taken = ep.actions.reshape(-1, 1)
        mean = self.mean_action(out)
        noise = (taken - mean) / self.action_std  # the standardised exploration noise
        slope = spec.max_action * (1.0 - jnp.tanh(out) ** 2)  # d mean / d out
        error = noise / self.action_std * slope
        return jnp.concatenate([mean / spec.max_action, noise], -1), error

    def loss(self, theta: Params, key: jax.Array) -> jax.Array:
        """REINFORCE: minus the mean over live steps of log pi(a|s) x advantage."""
        ep, adv, weight = self._rows(theta, key)
        out = self.model.apply(theta, ep.obs.reshape(-1, self.spec.obs_dim))
        if self.spec.discrete:
            logp = jnp.take_along_axis(jax.nn.log_softmax(out), ep.actions.reshape(-1, 1), -1)[:, 0]
        else:
            z = (ep.actions.reshape(-1, 1) - self.mean_action(out))[:, 0] / self.action_std
            logp = -0.5 * z * z
        return -jnp.mean(logp * jax.lax.stop_gradient(adv * weight))

    def taps_and_error(self, theta: Params, key: jax.Array) -> tuple[list[LayerTap], jax.Array]:
        ep, adv, weight = self._rows(theta, key)
        out, taps = self.model.forward(theta, ep.obs.reshape(-1, self.spec.obs_dim))
        _, error = self._policy_terms(out, ep)
        return taps, error * (adv * weight)[:, None]

    def credit_state(self, theta: Params, key: jax.Array) -> tuple[jax.Array, Any]:
        ep, adv, weight = self._rows(theta, key)
        out, taps = self.model.forward(theta, ep.obs.reshape(-1, self.spec.obs_dim))
        emitted_taken, _ = self._policy_terms(out, ep)
        x = ep.obs.reshape(-1, self.spec.obs_dim)
        return jnp.concatenate([x, emitted_taken, adv[:, None]], -1), (taps, weight)

    def apply_credits(self, theta: Params, aux: Any, credits: list[jax.Array]) -> Params:
        taps, weight = aux
        return self.model.local_update(taps, [c * weight[:, None] for c in credits])

    def fitness(self, theta: Params, key: jax.Array) -> jax.Array:
        """The greedy agent's mean return over ``fitness_episodes`` episodes."""
        return jnp.mean(self.returns(self.play(theta, key, self.fitness_episodes, greedy=True)))

    def report(self, theta: Params, key: jax.Array) -> dict[str, jax.Array]:
        """The exploring agent's mean return (the fitness is the greedy one's)."""
        explore = self.returns(self.play(theta, key, self.fitness_episodes, greedy=False))
        return {"explore_return": jnp.mean(explore)}
