/// The product of `factors`, or `nil` when it does not fit in an `Int`: tensor shapes and layer
/// sizes come from model files, and a product that overflows must be an error, not a trap.
func checkedProduct(_ factors: [Int]) -> Int? {
    var product = 1
    for factor in factors {
        let (next, overflow) = product.multipliedReportingOverflow(by: factor)
        if overflow { return nil }
        product = next
    }
    return product
}
