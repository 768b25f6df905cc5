// Package mask makes sensitive values in log lines unreadable before they
// are stored: card numbers (primary account numbers, PANs, which PCI DSS
// requires to be unreadable wherever they are stored) always, and the
// values of configured regular expressions (e-mail addresses, bearer
// tokens...).
//
// # Card numbers
//
// PAN masking is always on: a nil Masker, a zero Masker and New(nil) all
// mask card numbers, and no configuration turns it off. A PAN is masked to
// its first six and last four digits, every digit in between becoming '*'
// and separators staying where they are, so the masked text has the same
// length in bytes as the original:
//
//	4111111111111111      →  411111******1111
//	4111 1111 1111 1111   →  4111 11** **** 1111
//	3782-822463-10005     →  3782-82****-*0005
//
// A PAN is 13 to 19 ASCII digits, first digit 2 to 6 (the payment brands'
// major industry identifiers: Mastercard 2 and 5, Amex, Diners and JCB 3,
// Visa 4, Discover, UnionPay and Maestro 6), passing the Luhn check, in
// one of two forms:
//   - contiguous: a whole run of 13 to 19 digits;
//   - grouped: a group of 4 digits followed by groups of 2 to 6 digits,
//     each after one separator, the same all along: a single space or a
//     single '-' (4-4-4-4, Amex 4-6-5, Diners 4-6-4, 19 digits 4-4-4-4-3).
//     A PAN may be followed or preceded by another number (a quantity, a
//     year) joined the same way: from each group, the longest span of
//     groups that is a PAN is masked, so the neighbour does not hide the
//     card. When a neighbour and the card's first groups pass the check
//     too (one time in ten), both spans are masked and counted.
//
// Word boundaries: a PAN is a token of its own. The byte before it and the
// byte after it must not be an ASCII letter or digit, so the digits inside
// an id (abc4111111111111111, a hex trace id) or a longer number (a 20-digit
// one) are never masked, while card=4111111111111111, "4111111111111111",
// (4111111111111111), /4111111111111111/ and x-4111111111111111 are. Nor may
// a PAN be part of a decimal number: a '.' between it and another digit
// (0.4111111111111111, an IP address, the fraction of a timestamp) keeps it
// as it is. '_' and non-ASCII bytes are boundaries like punctuation.
//
// What is not recognised, by design: numbers starting with 0, 1, 7, 8 or 9
// (Unix timestamps in milliseconds and nanoseconds, snowflake ids: 13 and 19
// digits starting with 1, which would otherwise be masked one time in ten),
// separators other than one space or one '-', mixed separators, grouped
// forms whose first group is not 4 digits. A Luhn-valid 13 to 19 digit
// number starting with 2 to 6 that is not a card (a 16-digit span id made of
// digits only) is masked: one in ten of such numbers pass the check.
//
// # Patterns
//
// Each configured Pattern is applied after the PANs, in order, to the
// output of the previous one. Every non-empty match becomes the pattern's
// Replace text, "[MASKED:<name>]" when Replace is empty; Replace may refer
// to the match's groups as regexp.Regexp.Expand does ($1, ${name}; $$ for
// a '$'), so 'Bearer [MASKED]' or '${user}@[MASKED]' keep what is not
// secret. A pattern that matches the empty string is refused by New.
//
// The output holds no PAN: card numbers are masked again after the
// patterns when a pattern changed the line (a replacement can end the
// token that digits touched: "a@b.co4111..." becomes
// "[MASKED:email]4111..."), and again after their own masking until none
// is left (a '*' ends a token too). So masking is idempotent, as long as
// no pattern matches its own replacement (the default replacements match
// none of the usual patterns).
//
// # Cost
//
// The common line has nothing to mask, so that is the path made fast. The
// PAN scan is one pass over the bytes with no allocation and no regexp: it
// probes every 13th byte and looks closer only where 13 bytes in a row are
// digits, spaces or dashes, which a PAN needs (a plain byte-by-byte loop
// is about ten times slower). A pattern's regexp runs only on lines that
// contain the literal text every match must contain, found from the
// regexp's syntax ("@" for an e-mail pattern, "Bearer " for a bearer
// token): a strings.Contains, where the regexp would cost a hundred times
// more. A pattern with no such literal (a case-insensitive word, an
// alternation of words: (?i)bearer, token|secret) runs its regexp on
// every line; write it with a literal when you can.
//
// BenchmarkString, 200-byte clean log lines (JSON, logfmt, access log), on
// a shared 2-core machine, best of 20: 22, 25 and 48 ns per line for card
// numbers only, 38, 41 and 66 ns with the e-mail and bearer patterns (1.5
// times as much), none allocating; the same two patterns without the
// literal prefilter take about 5 µs per line. A line with a card costs one
// allocation, the masked copy: about 200 ns.
//
// A Masker is immutable once built and safe for concurrent use.
package mask
