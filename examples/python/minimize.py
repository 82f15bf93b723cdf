"""Minimize a function of a conditional space (hyperopt's landing-page
example). The only change from a hyperopt script is the import line."""

from parzen import STATUS_OK, Trials, fmin, hp, space_eval, tpe


def objective(args):
    case, val = args
    if case == "case 1":
        return {"loss": val, "status": STATUS_OK}
    return {"loss": val ** 2, "status": STATUS_OK}


space = hp.choice("a", [
    ("case 1", 1 + hp.lognormal("c1", 0, 1)),
    ("case 2", hp.uniform("c2", -10, 10)),
])

if __name__ == "__main__":
    trials = Trials()
    best = fmin(objective, space, algo=tpe.suggest, max_evals=100,
                trials=trials, show_progressbar=False)
    print("best:", best)
    print("point:", space_eval(space, best))
    print("best loss: %.6f after %d trials" % (min(trials.losses()),
                                                len(trials)))
    assert space_eval(space, best)[0] == "case 2"
