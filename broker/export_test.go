package broker

// HashPartitioner is hashPartitioner for the external tests, which may
// import the packages above broker.
var HashPartitioner = hashPartitioner
