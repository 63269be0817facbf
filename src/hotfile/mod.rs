//! Reading a Hotfile: KDL text to a validated [`crate::model::Project`], or every mistake in it
//! as miette diagnostics.
