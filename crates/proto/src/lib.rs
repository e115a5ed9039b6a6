//! hongbao-proto: typed models, XML and outcomes (being built).
