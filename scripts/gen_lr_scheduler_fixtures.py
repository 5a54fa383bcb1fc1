"""Generate test/fixtures/optim/: what torch.optim.lr_scheduler computes, for test/lr-scheduler.test.ts.

Run it with each PyTorch the project supports; each run writes the files of its own version
(`<tag>` is torch's major.minor, e.g. `torch-1.13`):

    /usr/bin/python3 scripts/gen_lr_scheduler_fixtures.py
    /var/cache/torchbridge/venvs/torch-2.11.0-py3.11/bin/python scripts/gen_lr_scheduler_fixtures.py

Writes, deterministically:

- `lr_scheduler.<tag>.json`: {"torch": version, "cases": [...], "errors": [...]}.
  A case builds an optimizer (`optimizer`: "sgd" or "adam", one parameter group per entry of
  `groupLrs`, with that learning rate), then the schedulers of `schedulers` in order ({"type": "StepLR", "options": {...}} with
  torchbridge's option names, which this script maps to PyTorch's keyword arguments; LambdaLR's
  `lrLambda` names lambdas of LAMBDAS, one name or a list), and runs `steps` iterations of
  optimizer.step() then every scheduler's step() (ChainedScheduler's order). Before iteration
  `step`'s optimizer.step(), `lrChanges` set param_groups[group]["lr"] = lr from outside the
  schedulers. `lrs[k]` is every group's learning rate after k iterations (k = 0: right after
  construction), `lastLrs[k]` each scheduler's get_last_lr() then. `mid`: after that many
  iterations, `midState` holds each scheduler's state_dict() as JSON (key order kept; Counter as a
  dict with str keys; values JSON cannot hold as {"python": repr}), and `lr_<case>.<tag>.pt` holds
  {"schedulers": [state_dict(), ...], "optimizer": optimizer.state_dict()} as torch.save wrote it.
  `next` (OneCycleLR cases): the error message of one more step after the last, and of the step
  after that.
- errors: {"name", "type", "options", "groups", "message"}: the ValueError (or other exception)
  of a constructor call with bad arguments, or null when this version accepts them.
- `lr_scheduler_libm.json` (the same from every version): {"cos": [[x, cos x]], "pow": [[x, n, x**n]]},
  cos and integer powers rounded to the nearest double, computed exactly here (Fractions and
  80-digit Decimals, not libm), for arguments of the kind schedulers pass (pi * a fraction,
  multiples of pi / 2, random ones), and "glibcDiffers": how many of them Python's math.cos and
  `**` (glibc's, not correctly rounded on every argument) round otherwise.

The test suite also runs this script in resume mode, to check that PyTorch continues a case
from the state dicts torchbridge saved after `mid` iterations:

    /usr/bin/python3 scripts/gen_lr_scheduler_fixtures.py resume CASE SCHEDULERS_PT OPTIMIZER_PT

builds the case's optimizer and schedulers afresh, loads OPTIMIZER_PT (optimizer.state_dict()
saved by torchbridge) into the optimizer and each entry of SCHEDULERS_PT (a list of
scheduler.state_dict()) into its scheduler, both with torch.load's defaults, runs the remaining
iterations and prints {"lrs": [...], "lastLrs": [...]} (iterations mid+1 .. steps) as JSON.
torchbridge's optimizer state dict has no `initial_lr`, `max_lr` or `min_lr` (PyTorch keeps those
scheduler values in the optimizer's param_groups); resume mode puts back the values the fresh
schedulers set, as they would be after loading a state dict PyTorch saved.
"""

import json
import math
import os
import random
import sys
import warnings
from collections import Counter
from decimal import Decimal, localcontext
from fractions import Fraction

import torch
from torch.optim import lr_scheduler

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "optim")
TAG = "torch-" + ".".join(torch.__version__.split(".")[:2])

# The lambdas of LambdaLR cases; test/lr-scheduler.test.ts writes the same ones in JS.
LAMBDAS = {
    "decay095": lambda e: 0.95 ** e,
    "warmup5": lambda e: min(1.0, (e + 1) / 5),
}

# torchbridge's option names -> PyTorch's keyword arguments.
PYTHON_NAMES = {
    "stepSize": "step_size", "gamma": "gamma", "milestones": "milestones", "TMax": "T_max", "etaMin": "eta_min",
    "startFactor": "start_factor", "endFactor": "end_factor", "totalIters": "total_iters", "lrLambda": "lr_lambda",
    "maxLr": "max_lr", "totalSteps": "total_steps", "epochs": "epochs", "stepsPerEpoch": "steps_per_epoch",
    "pctStart": "pct_start", "annealStrategy": "anneal_strategy", "cycleMomentum": "cycle_momentum",
    "divFactor": "div_factor", "finalDivFactor": "final_div_factor", "threePhase": "three_phase",
}


def case(name, optimizer, group_lrs, schedulers, steps, mid, lr_changes=()):
    return {"name": name, "optimizer": optimizer, "groupLrs": group_lrs, "schedulers": schedulers, "steps": steps, "mid": mid,
            "lrChanges": [{"step": s, "group": g, "lr": lr} for s, g, lr in lr_changes]}


def sched(kind, **options):
    return {"type": kind, "options": options}


CASES = [
    case("step_sgd_gamma", "sgd", [0.1, 0.05], [sched("StepLR", stepSize=3, gamma=0.5)], 20, 10),
    case("step_adam_default_gamma", "adam", [0.001], [sched("StepLR", stepSize=4)], 14, 6),
    case("multistep_repeated_milestone", "sgd", [0.1, 0.03], [sched("MultiStepLR", milestones=[3, 7, 7, 12], gamma=0.3)], 16, 5),
    case("exponential_lr_change", "adam", [0.01, 0.002], [sched("ExponentialLR", gamma=0.9)], 20, 10, [(8, 0, 0.05)]),
    case("cosine_eta_min_restarts", "sgd", [0.1, 0.02], [sched("CosineAnnealingLR", TMax=6, etaMin=0.001)], 30, 13),
    case("cosine_default", "adam", [0.001], [sched("CosineAnnealingLR", TMax=10)], 12, 4),
    case("linear_warmup", "sgd", [0.1, 0.01], [sched("LinearLR", startFactor=0.25, endFactor=1.0, totalIters=4)], 10, 2),
    case("linear_defaults", "adam", [0.003], [sched("LinearLR")], 8, 3),
    case("linear_decay", "sgd", [0.5], [sched("LinearLR", startFactor=1.0, endFactor=0.1, totalIters=6)], 10, 4),
    case("lambda_groups", "sgd", [0.1, 0.05], [sched("LambdaLR", lrLambda=["decay095", "warmup5"])], 15, 7),
    case("lambda_single", "adam", [0.01, 0.001], [sched("LambdaLR", lrLambda="decay095")], 10, 5),
    case("onecycle_cos", "sgd", [0.1, 0.1], [sched("OneCycleLR", maxLr=[0.1, 0.01], totalSteps=20, cycleMomentum=False)], 20, 9),
    case("onecycle_linear_epochs", "adam", [0.001],
         [sched("OneCycleLR", maxLr=0.05, epochs=4, stepsPerEpoch=5, pctStart=0.25, annealStrategy="linear", cycleMomentum=False)], 20, 8),
    case("onecycle_three_phase_cos", "sgd", [0.3],
         [sched("OneCycleLR", maxLr=0.2, totalSteps=25, threePhase=True, divFactor=10.0, finalDivFactor=100.0, cycleMomentum=False)], 25, 12),
    case("onecycle_three_phase_linear", "adam", [0.001, 0.002],
         [sched("OneCycleLR", maxLr=[0.02, 0.01], totalSteps=16, threePhase=True, pctStart=0.4, annealStrategy="linear",
                cycleMomentum=False)], 16, 7),
    case("chained_linear_exponential", "sgd", [0.1, 0.05],
         [sched("LinearLR", startFactor=0.5, totalIters=3), sched("ExponentialLR", gamma=0.9)], 12, 5),
]

ERRORS = [
    ("linear_start_factor_zero", "LinearLR", {"startFactor": 0.0}, 1),
    ("linear_start_factor_above_one", "LinearLR", {"startFactor": 1.5}, 1),
    ("linear_end_factor_negative", "LinearLR", {"endFactor": -0.1}, 1),
    ("lambda_count", "LambdaLR", {"lrLambda": ["decay095", "decay095", "warmup5"]}, 2),
    ("onecycle_no_total", "OneCycleLR", {"maxLr": 0.1, "cycleMomentum": False}, 1),
    ("onecycle_epochs_only", "OneCycleLR", {"maxLr": 0.1, "epochs": 3, "cycleMomentum": False}, 1),
    ("onecycle_total_zero", "OneCycleLR", {"maxLr": 0.1, "totalSteps": 0, "cycleMomentum": False}, 1),
    ("onecycle_epochs_zero", "OneCycleLR", {"maxLr": 0.1, "epochs": 0, "stepsPerEpoch": 5, "cycleMomentum": False}, 1),
    ("onecycle_steps_per_epoch_negative", "OneCycleLR", {"maxLr": 0.1, "epochs": 2, "stepsPerEpoch": -1, "cycleMomentum": False}, 1),
    ("onecycle_pct_start", "OneCycleLR", {"maxLr": 0.1, "totalSteps": 10, "pctStart": 1.5, "cycleMomentum": False}, 1),
    ("onecycle_anneal_strategy", "OneCycleLR", {"maxLr": 0.1, "totalSteps": 10, "annealStrategy": "exp", "cycleMomentum": False}, 1),
    ("onecycle_max_lr_count", "OneCycleLR", {"maxLr": [0.1, 0.2, 0.3], "totalSteps": 10, "cycleMomentum": False}, 2),
    ("onecycle_phase_without_steps", "OneCycleLR", {"maxLr": 0.1, "totalSteps": 10, "pctStart": 0.1, "cycleMomentum": False}, 1),
]


def python_kwargs(options):
    out = {}
    for key, value in options.items():
        if key == "lrLambda":
            value = [LAMBDAS[v] for v in value] if isinstance(value, list) else LAMBDAS[value]
        out[PYTHON_NAMES[key]] = value
    return out


def make_optimizer(kind, lrs):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0]) if kind == "sgd" else torch.optim.Adam(groups, lr=lrs[0])


def make_schedulers(spec, optimizer):
    return [getattr(lr_scheduler, s["type"])(optimizer, **python_kwargs(s["options"])) for s in spec["schedulers"]]


def iterate(spec, optimizer, schedulers, step):
    for change in spec["lrChanges"]:
        if change["step"] == step:
            optimizer.param_groups[change["group"]]["lr"] = change["lr"]
    optimizer.step()  # no gradients: nothing changes, but PyTorch sees the order it expects
    for s in schedulers:
        s.step()


def jsonable(value):
    if isinstance(value, Counter):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"python": repr(value).split(" of ")[0]}


def state_json(scheduler):
    state = scheduler.state_dict()
    return {"keys": list(state.keys()), "values": jsonable(state)}


def run_case(spec):
    optimizer = make_optimizer(spec["optimizer"], spec["groupLrs"])
    schedulers = make_schedulers(spec, optimizer)
    lrs = [[g["lr"] for g in optimizer.param_groups]]
    last = [[s.get_last_lr() for s in schedulers]]
    out = dict(spec)
    for step in range(1, spec["steps"] + 1):
        iterate(spec, optimizer, schedulers, step)
        lrs.append([g["lr"] for g in optimizer.param_groups])
        last.append([s.get_last_lr() for s in schedulers])
        if step == spec["mid"]:
            out["midState"] = [state_json(s) for s in schedulers]
            torch.save({"schedulers": [s.state_dict() for s in schedulers], "optimizer": optimizer.state_dict()},
                       os.path.join(OUTPUT, f"lr_{spec['name']}.{TAG}.pt"))
    out["lrs"] = lrs
    out["lastLrs"] = last
    if spec["schedulers"][0]["type"] == "OneCycleLR":
        messages = []
        for _ in range(2):
            try:
                schedulers[0].step()
                messages.append(None)
            except ValueError as e:
                messages.append(str(e))
        out["next"] = messages
    return out


def run_error(name, kind, options, groups):
    optimizer = make_optimizer("sgd", [0.1] * groups)
    entry = {"name": name, "type": kind, "options": options, "groups": groups}
    try:
        getattr(lr_scheduler, kind)(optimizer, **python_kwargs(options))
        entry["message"] = None
    except Exception as e:  # noqa: BLE001 - PyTorch 1.13 raises TypeError for some of these
        entry["errorType"] = type(e).__name__
        entry["message"] = str(e)
    return entry


def decimal_pi():
    """pi to 120 digits, by Machin's formula."""
    def arctan_inverse(n):
        x = Decimal(1) / n
        total, term, k = x, x, 1
        while True:
            term *= -x * x
            k += 2
            if abs(term / k) < Decimal(10) ** -125:
                return total
            total += term / k
    with localcontext() as ctx:
        ctx.prec = 130
        return 16 * arctan_inverse(5) - 4 * arctan_inverse(239)


def exact_cos(x, pi):
    """cos(x) for the double x, rounded to the nearest double (float(Fraction) rounds correctly)."""
    with localcontext() as ctx:
        ctx.prec = 80
        y = Decimal(x) % (2 * pi)  # Decimal(x) is the double's exact value
        total, term, k = Decimal(1), Decimal(1), 0
        while abs(term) > Decimal(10) ** -90:
            k += 2
            term = -term * y * y / (k * (k - 1))
            total += term
        return float(Fraction(total))


def libm_cases():
    rng = random.Random(1)
    pi = decimal_pi()
    xs = [math.pi * rng.randint(0, 60) / rng.randint(1, 40) for _ in range(200)]
    xs += [rng.uniform(0, 8) for _ in range(300)] + [rng.uniform(-1000, 1000) for _ in range(100)]
    xs += [k * (math.pi / 2) for k in range(1, 41)] + [0.0, 1e-9, 5e-324]
    powers = [(0.95, n) for n in range(16)] + [(rng.choice([0.1, 0.3, 0.5, 0.9, 0.99]), rng.randint(1, 12)) for _ in range(50)]
    powers += [(rng.uniform(0, 1), rng.randint(1, 40)) for _ in range(200)]
    cos = [[x, exact_cos(x, pi)] for x in xs]
    pow_ = [[x, n, float(Fraction(x) ** n)] for x, n in powers]
    differs = {"cos": sum(math.cos(x) != c for x, c in cos), "pow": sum(x ** n != p for x, n, p in pow_)}
    return {"cos": cos, "pow": pow_, "glibcDiffers": differs}


def main():
    os.makedirs(OUTPUT, exist_ok=True)
    # lr_scheduler warns about deprecated arguments and step orders in some versions; the
    # numbers are what matters here.
    warnings.simplefilter("ignore")
    cases = [run_case(c) for c in CASES]
    errors = [run_error(*e) for e in ERRORS]
    with open(os.path.join(OUTPUT, f"lr_scheduler.{TAG}.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases, "errors": errors}, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUTPUT, "lr_scheduler_libm.json"), "w") as f:
        json.dump(libm_cases(), f)
        f.write("\n")


def resume_main(argv):
    if len(argv) != 3:
        sys.exit("usage: gen_lr_scheduler_fixtures.py resume CASE SCHEDULERS_PT OPTIMIZER_PT")
    warnings.simplefilter("ignore")
    spec = next(c for c in CASES if c["name"] == argv[0])
    optimizer = make_optimizer(spec["optimizer"], spec["groupLrs"])
    schedulers = make_schedulers(spec, optimizer)
    kept = [{k: g[k] for k in ("initial_lr", "max_lr", "min_lr") if k in g} for g in optimizer.param_groups]
    optimizer.load_state_dict(torch.load(argv[2]))
    for group, values in zip(optimizer.param_groups, kept):
        group.update(values)
    states = torch.load(argv[1])
    if len(states) != len(schedulers):
        sys.exit(f"{argv[1]} holds {len(states)} scheduler state dicts, case {argv[0]} has {len(schedulers)} schedulers")
    for s, state in zip(schedulers, states):
        s.load_state_dict(state)
    lrs, last = [], []
    for step in range(spec["mid"] + 1, spec["steps"] + 1):
        iterate(spec, optimizer, schedulers, step)
        lrs.append([g["lr"] for g in optimizer.param_groups])
        last.append([s.get_last_lr() for s in schedulers])
    json.dump({"lrs": lrs, "lastLrs": last}, sys.stdout)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "resume":
        resume_main(sys.argv[2:])
    elif len(sys.argv) > 1:
        sys.exit("usage: gen_lr_scheduler_fixtures.py [resume CASE SCHEDULERS_PT OPTIMIZER_PT]")
    else:
        main()
