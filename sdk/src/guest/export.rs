//! Implements the WIT `produce` interface for any [`Filter`].

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Once;

use super::bindings::exports::wafka::filter::{consume, produce};
use super::bindings::wafka::filter::{config, types};
use crate::{Filter, Outcome, Record, Request, load_filter, run_filter};

/// Exports `F` as the component's `produce` interface; named by `export_filter!`.
pub struct Adapter<F>(PhantomData<fn() -> F>);

impl<F: Filter> produce::Guest for Adapter<F> {
    fn check_config() -> Result<(), String> {
        log_panics();
        load_filter::<F>(&config::get()).map(drop)
    }

    fn on_request(request: &types::Request, records: Vec<types::Record>) -> types::Outcome {
        log_panics();
        let records = records.into_iter().map(|inner| Record { inner }).collect();
        let outcome = match built::<F>() {
            Ok(filter) => filter.on_request(Request::from_host(request), records),
            // Answers the config's error.
            Err(_) => run_filter::<F>(&config::get(), Request::from_host(request), records),
        };
        match outcome {
            Outcome::Forward(records) => {
                types::Outcome::Forward(records.into_iter().map(|record| record.inner).collect())
            }
            Outcome::Respond(response) => types::Outcome::Respond(response),
        }
    }
}

impl<F: Filter> consume::Guest for Adapter<F> {
    fn sees_records() -> bool {
        log_panics();
        load_filter::<F>(&config::get()).is_ok_and(|filter| filter.sees_records())
    }

    fn on_records(request: &types::Request, records: Vec<types::Record>) -> Vec<types::Record> {
        log_panics();
        let records = records.into_iter().map(|inner| Record { inner }).collect();
        let filter = built::<F>()
            .unwrap_or_else(|message| panic!("config refused after it was accepted: {message}"));
        filter
            .on_records(Request::from_host(request), records)
            .into_iter()
            .map(|record| record.inner)
            .collect()
    }
}

thread_local! {
    /// The filter built from the route's config, kept for the instance's next calls: an
    /// instance never serves another config, and a fresh one serves no next call.
    static BUILT: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

/// `F` built from the config by its first call on this instance.
fn built<F: Filter>() -> Result<Rc<F>, String> {
    if let Some(filter) = BUILT.with(|b| b.borrow().clone())
        && let Ok(filter) = filter.downcast::<F>()
    {
        return Ok(filter);
    }
    let filter = Rc::new(load_filter::<F>(&config::get())?);
    BUILT.with(|b| *b.borrow_mut() = Some(filter.clone()));
    Ok(filter)
}

/// A panic traps the instance. Besides the default hook's line on the instance's stderr, send
/// the message to the gateway's log, where it is attributed to this filter and request.
fn log_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            crate::log::error(format!("filter {info}"));
            default_hook(info);
        }));
    });
}
