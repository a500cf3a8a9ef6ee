/// McAfee's (1992) trade-reduction double auction: buy claims bid and sell claims ask a price per unit for whole
/// units (every unit of a claim at its price). Bids sorted b₁ ≥ b₂ ≥ …, asks s₁ ≤ s₂ ≤ … (equal prices by claimant
/// id); k is the largest index with b_k ≥ s_k and p₀ = (b_{k+1} + s_{k+1}) / 2. If both (k+1)-th units exist and
/// s_k ≤ p₀ ≤ b_k, k units trade at p₀; otherwise k − 1 units trade, buyers paying b_k and sellers getting s_k (the
/// k-th pair is left out so that no trader sets its own price). Bids 10, 8, 6, 4 and asks 1, 3, 5, 7 → 3 units at
/// 5.5. No buyer pays above its bid, no seller gets below its ask, and the buyers pay at least what the sellers get.
///
/// Supply: what the sellers offer, the sum of the sell claims' units (``ContractExecutor`` passes that, not the
/// pool's units). A buyer's allocation is the units it bought, a seller's the units it sold, each with the price it
/// pays or gets; the epoch's `free` is what the sellers offered and did not sell. The epoch's price is p₀ when k
/// units trade at it, and none after a trade reduction (buyers and sellers then see different prices).
enum DoubleAuction {
    /// One claim's units at its price, on one side of the book.
    struct Offer {
        /// The claim's index in the claims.
        let index: Int
        let claimant: String
        let price: Rational
        let units: Int128
    }

    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        try ctx.charge(claims.count, "reading the bids and asks")
        var bids: [Offer] = [], asks: [Offer] = []
        var offered = Rational.zero
        for (i, c) in claims.enumerated() {
            guard let side = c.claim.side else {
                throw ContractFailure(.invalidClaim, "'\(c.id)' has no side: a double auction claim buys or sells")
            }
            guard let price = c.claim.price, !price.isNegative else {
                throw ContractFailure(.invalidClaim, "'\(c.id)' \(side == .buy ? "bids" : "asks") no price ≥ 0 per unit")
            }
            guard c.demand.isInteger else {
                throw ContractFailure(.invalidClaim, "'\(c.id)' \(side == .buy ? "bids for" : "offers") \(c.demand) units: a double auction trades whole units")
            }
            if side == .sell { offered = try offered.adding(c.demand) }
            guard !c.demand.isZero else { continue }
            let offer = Offer(index: i, claimant: c.id, price: price, units: c.demand.numerator)
            if side == .buy { bids.append(offer) } else { asks.append(offer) }
        }
        guard offered == supply else {
            throw ContractFailure(.invalidClaim, "the supply \(supply) is not the \(offered) units the sellers offer")
        }
        try ctx.charge(claims.count * (Int.bitWidth - claims.count.leadingZeroBitCount), "sorting the bids and asks")
        bids.sort { $0.price > $1.price || ($0.price == $1.price && idPrecedes($0.claimant, $1.claimant)) }
        asks.sort { $0.price < $1.price || ($0.price == $1.price && idPrecedes($0.claimant, $1.claimant)) }

        let crossing = try cross(&ctx, bids: bids, asks: asks)
        var units = Array(repeating: Int128(0), count: claims.count)
        var prices: [Rational?] = Array(repeating: nil, count: claims.count)
        var clearing: Rational?
        if let crossing {
            let k = crossing.k
            let traded: Int128, buyerPrice: Rational, sellerPrice: Rational
            var p0: Rational?
            if let next = crossing.next { p0 = try next.bid.adding(next.ask).divided(by: Rational(2)) }
            if let next = crossing.next, let p0, !(p0 < crossing.ask), !(crossing.bid < p0) {
                traded = k
                (buyerPrice, sellerPrice) = (p0, p0)
                clearing = p0
                try ctx.record(Step("price", amounts: [Rational(reduced: k, 1), crossing.bid, crossing.ask, p0],
                                    note: "k = \(k): b_k = \(crossing.bid.displayText) ≥ s_k = \(crossing.ask.displayText); "
                                        + "p₀ = (\(next.bid.displayText) + \(next.ask.displayText))/2 = \(p0.displayText) lies between them: \(k) units trade at \(p0.displayText)"))
            } else {
                traded = k - 1
                (buyerPrice, sellerPrice) = (crossing.bid, crossing.ask)
                let why = p0.map { "p₀ = \($0.displayText) lies outside [s_k, b_k]" } ?? "there is no (k+1)-th bid or ask"
                try ctx.record(Step("price", amounts: [Rational(reduced: k, 1), crossing.bid, crossing.ask],
                                    note: "k = \(k): b_k = \(crossing.bid.displayText) ≥ s_k = \(crossing.ask.displayText); \(why): "
                                        + "trade reduction, \(k - 1) units trade, buyers pay \(crossing.bid.displayText) and sellers get \(crossing.ask.displayText)"))
                try ctx.record(Step("reduce", amounts: [crossing.bid, crossing.ask],
                                    note: "the k-th bid unit ('\(crossing.bidder)') and ask unit ('\(crossing.asker)') set the prices and are not traded"))
            }
            try fill(&ctx, &units, &prices, book: bids, traded: traded, price: buyerPrice, verb: "buys")
            try fill(&ctx, &units, &prices, book: asks, traded: traded, price: sellerPrice, verb: "sells")
        } else {
            try ctx.record(Step("price", amounts: [.zero], note: "no bid reaches an ask: nothing trades"))
        }
        let allocations = claims.indices.map { i in
            Allocation(claimant: claims[i].id, units: Rational(reduced: units[i], 1), side: claims[i].claim.side, price: prices[i])
        }
        return MechanismOutput(allocations: allocations, price: clearing)
    }

    /// Where the books cross: k, the k-th bid and ask (with their claimants), and the (k+1)-th bid and ask when both
    /// exist. Nil when no bid reaches an ask (k = 0). Walks the books once, a run of units at constant prices at a time.
    static func cross(_ ctx: inout ExecutionContext, bids: [Offer], asks: [Offer]) throws(ContractFailure)
        -> (k: Int128, bid: Rational, ask: Rational, bidder: String, asker: String, next: (bid: Rational, ask: Rational)?)? {
        var k: Int128 = 0
        var b = 0, a = 0
        var usedBid: Int128 = 0, usedAsk: Int128 = 0
        var last: (bid: Offer, ask: Offer)?
        while b < bids.count, a < asks.count, !(bids[b].price < asks[a].price) {
            try ctx.charge(1, "crossing the books")
            let n = Swift.min(bids[b].units - usedBid, asks[a].units - usedAsk)
            k += n
            usedBid += n
            usedAsk += n
            last = (bids[b], asks[a])
            if usedBid == bids[b].units { b += 1; usedBid = 0 }
            if usedAsk == asks[a].units { a += 1; usedAsk = 0 }
        }
        guard let last else { return nil }
        let next = b < bids.count && a < asks.count ? (bid: bids[b].price, ask: asks[a].price) : nil
        return (k, last.bid.price, last.ask.price, last.bid.claimant, last.ask.claimant, next)
    }

    /// Gives the first `traded` units of `book` (in its sorted order) to their claims at `price`.
    static func fill(_ ctx: inout ExecutionContext, _ units: inout [Int128], _ prices: inout [Rational?], book: [Offer], traded: Int128,
                     price: Rational, verb: String) throws(ContractFailure) {
        var left = traded
        for offer in book where left > 0 {
            let n = Swift.min(offer.units, left)
            left -= n
            units[offer.index] = n
            prices[offer.index] = price
            try ctx.record(Step("trade", claimant: offer.claimant, amounts: [Rational(reduced: n, 1), price],
                                note: "'\(offer.claimant)' (\(offer.price.displayText) per unit) \(verb) \(n) of its \(offer.units) units at \(price.displayText)"))
        }
    }
}
