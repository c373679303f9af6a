//! Compiles the Slint UI and bundles its translations into the binary, so the kiosk needs no
//! gettext files at run time.

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        .with_bundled_translations("lang")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        // Element debug info lets the UI tests find elements by accessible label; it costs
        // a few strings in the binary.
        .with_debug_info(true);
    if let Err(e) = slint_build::compile_with_config("app.slint", config) {
        // The build script's only way to fail is to panic, with the compiler's message.
        panic!("the Slint UI does not compile: {e}");
    }
    println!("cargo:rerun-if-changed=lang");
}
