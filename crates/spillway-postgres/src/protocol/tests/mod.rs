//! Tests against a live server and a scripted one.

mod live;
mod mock;
