//! daimond: the supervisor daemon. See the crate docs of each module.

mod log_writer;
mod supervisor;

fn main() {}
