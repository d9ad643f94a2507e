//! Argument pieces several commands share, defined once so that they parse and read alike:
//! the `--device` value parser and the merging of optional flags into a loaded configuration.

use std::ffi::OsStr;

use multimat_train::device::{parse_device, DeviceSpec};

/// The clap value parser of every `--device`: `cpu`, `cuda`/`cuda:N`, `wgpu`/`wgpu:N`, parsed
/// once into a [`DeviceSpec`] when the command line is read.
#[derive(Debug, Clone, Copy)]
pub struct DeviceArg;

impl clap::builder::TypedValueParser for DeviceArg {
    type Value = DeviceSpec;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<DeviceSpec, clap::Error> {
        let name = format!("--{}", arg.and_then(|a| a.get_long()).unwrap_or("device"));
        let text = value.to_str().ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidUtf8,
                format!("{name}: not UTF-8\n"),
            )
            .with_cmd(cmd)
        })?;
        parse_device(text).map_err(|problem| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value for {name}: {problem}\n"),
            )
            .with_cmd(cmd)
        })
    }
}

/// Overwrites `$target.FIELD` with `$args.FIELD` for each listed field the user gave (the
/// flag is an `Option` that is `Some`), so flags override a file's or the defaults' values.
macro_rules! merge_flags {
    ($target:expr, $args:expr; $($field:ident),* $(,)?) => {
        $(if let Some(v) = &$args.$field {
            $target.$field = v.clone();
        })*
    };
}
pub(crate) use merge_flags;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[arg(long, default_value = "cpu", value_parser = DeviceArg)]
        device: DeviceSpec,
        #[arg(long)]
        epochs: Option<usize>,
    }

    #[test]
    fn device_parses_once_and_bad_names_are_named() {
        let c = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(c.device, DeviceSpec::Cpu);
        let c = Cli::try_parse_from(["x", "--device", "cuda:2"]).unwrap();
        assert_eq!(c.device, DeviceSpec::Cuda(2));
        let e = Cli::try_parse_from(["x", "--device", "tpu"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--device") && e.contains("tpu"), "{e}");
    }

    #[test]
    fn merge_flags_overrides_only_given_flags() {
        struct Target {
            epochs: usize,
        }
        let mut t = Target { epochs: 3 };
        let c = Cli::try_parse_from(["x"]).unwrap();
        merge_flags!(t, c; epochs);
        assert_eq!(t.epochs, 3);
        let c = Cli::try_parse_from(["x", "--epochs", "9"]).unwrap();
        merge_flags!(t, c; epochs);
        assert_eq!(t.epochs, 9);
    }
}
