//! `devsim crd`: prints the CustomResourceDefinition generated from the Rust types.

use super::{EXIT_FAILED, EXIT_OK};
use crate::crd::crd_yaml;

pub(super) fn print() -> u8 {
    match crd_yaml() {
        Ok(yaml) => {
            print!("{yaml}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: cannot render the CRD: {e}");
            EXIT_FAILED
        }
    }
}
