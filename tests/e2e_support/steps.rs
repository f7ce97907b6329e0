//! Named phases run in order against one cluster. A failed phase does not stop the run: the
//! phases that do not need it still run, those that do are skipped, and the summary lists every
//! outcome, so the first failure does not hide the rest.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures::FutureExt;

/// What a phase returns: a future borrowing the run's shared state.
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// A phase of the run: its name, the phases it needs, and what it does with the state `S`.
pub struct Step<S> {
    pub name: &'static str,
    pub needs: &'static [&'static str],
    pub run: for<'a> fn(&'a mut S) -> StepFuture<'a>,
}

/// `phase!("name", ["needed", ...], async_fn)`: a [`Step`] running `async_fn(&mut state)`.
macro_rules! phase {
    ($name:literal, [$($need:literal),*], $f:ident) => {
        $crate::e2e_support::Step { name: $name, needs: &[$($need),*], run: |e| Box::pin($f(e)) }
    };
}
pub(crate) use phase;

/// Runs `steps` in order on `state`; returns each phase's outcome (a panic's message on failure).
pub async fn run_steps<S>(
    state: &mut S,
    steps: &[Step<S>],
) -> Vec<(&'static str, Result<(), String>)> {
    let mut outcomes: Vec<(&str, Result<(), String>)> = Vec::new();
    let chosen = chosen(steps);
    for step in steps.iter().filter(|s| chosen.contains(&s.name)) {
        let missing = step.needs.iter().find(|need| {
            !outcomes
                .iter()
                .any(|(name, outcome)| name == *need && outcome.is_ok())
        });
        if let Some(need) = missing {
            outcomes.push((step.name, Err(format!("skipped: needs {need}"))));
            continue;
        }
        eprintln!("e2e: == {}", step.name);
        let outcome = AssertUnwindSafe((step.run)(state))
            .catch_unwind()
            .await
            .map_err(|panic| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "panicked".to_owned())
            });
        outcomes.push((step.name, outcome));
    }
    outcomes
}

/// The phases to run: all, or (for a person iterating on a few) those that
/// `DEVSIM_E2E_PHASES=a,b` names and every phase they need, transitively.
fn chosen<S>(steps: &[Step<S>]) -> Vec<&'static str> {
    let Ok(list) = std::env::var("DEVSIM_E2E_PHASES") else {
        return steps.iter().map(|s| s.name).collect();
    };
    let mut chosen: Vec<&'static str> = Vec::new();
    let mut wanted: Vec<String> = list.split(',').map(|n| n.trim().to_owned()).collect();
    while let Some(name) = wanted.pop() {
        let step = steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("DEVSIM_E2E_PHASES: no phase named {name:?}"));
        if !chosen.contains(&step.name) {
            chosen.push(step.name);
            wanted.extend(step.needs.iter().map(|n| (*n).to_owned()));
        }
    }
    chosen
}

/// Prints every outcome, then fails unless all passed.
pub fn assert_all_passed(outcomes: &[(&str, Result<(), String>)]) {
    let summary: Vec<String> = outcomes
        .iter()
        .map(|(name, outcome)| match outcome {
            Ok(()) => format!("  ok      {name}"),
            Err(why) => format!("  FAILED  {name}: {why}"),
        })
        .collect();
    eprintln!("e2e: phases\n{}", summary.join("\n"));
    assert!(
        outcomes.iter().all(|(_, outcome)| outcome.is_ok()),
        "phases failed:\n{}",
        summary.join("\n")
    );
}
