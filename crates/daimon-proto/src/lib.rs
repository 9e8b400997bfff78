//! daimon-proto
