// Package calendar answers the time questions safety rules ask about a
// facility: is it open now (opening hours per weekday in the facility's time
// zone, public holidays and make-up working days 调休 published by the State
// Council each year), when does it close today (the daily ventilation check
// is judged then), and which season is it (GB/T 18883-2022 sets different
// temperature and humidity ranges for the heating and cooling seasons, whose
// dates differ by region).
//
// A Calendar is immutable after New and safe for concurrent use. Callers on
// a hot path ask for a whole Day once and cache it: a Day answers IsOpen for
// every instant of that local day without further lookups.
package calendar
