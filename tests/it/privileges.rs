//! Privilege engine tests: privilege-cases.json and properties.
