//! `devsim crd`: prints the CustomResourceDefinition generated from the Rust types, or its
//! reference in Markdown.

use clap::Args;

use super::{EXIT_FAILED, EXIT_OK};
use crate::crd::{crd_yaml, reference_markdown};

/// Flags of `devsim crd`.
#[derive(Debug, Args)]
pub struct CrdArgs {
    /// Print the reference of every spec field (type, default, bounds) as a Markdown table
    /// instead of the CRD.
    #[arg(long)]
    pub reference: bool,
}

pub(super) fn print(args: &CrdArgs) -> u8 {
    if args.reference {
        print!("{}", reference_markdown());
        return EXIT_OK;
    }
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
