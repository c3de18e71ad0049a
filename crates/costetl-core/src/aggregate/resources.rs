//! The three resources idle is kept and shared by (CPU, GPU, RAM), and the
//! arithmetic that moves a fraction of an idle allocation's resources
//! elsewhere. Anything else on an idle allocation (PV, network, …) is not
//! idle and stays with it.

use crate::allocation::Allocation;

/// A value per idle resource: costs, or fractions of them.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct PerResource {
    pub cpu: f64,
    pub gpu: f64,
    pub ram: f64,
}

impl PerResource {
    /// `a`'s total cost per resource (adjustments included).
    pub(super) fn of(a: &Allocation) -> Self {
        Self {
            cpu: a.cpu_total_cost(),
            gpu: a.gpu_total_cost(),
            ram: a.ram_total_cost(),
        }
    }

    /// The same fraction of every resource.
    pub(super) fn all(frac: f64) -> Self {
        Self {
            cpu: frac,
            gpu: frac,
            ram: frac,
        }
    }

    pub(super) fn add(&mut self, o: Self) {
        self.cpu += o.cpu;
        self.gpu += o.gpu;
        self.ram += o.ram;
    }

    /// `self` times `k`.
    pub(super) fn scaled(self, k: f64) -> Self {
        Self {
            cpu: self.cpu * k,
            gpu: self.gpu * k,
            ram: self.ram * k,
        }
    }

    /// `self / total` per resource, 0 where the total is 0.
    pub(super) fn ratio(self, total: Self) -> Self {
        let r = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
        Self {
            cpu: r(self.cpu, total.cpu),
            gpu: r(self.gpu, total.gpu),
            ram: r(self.ram, total.ram),
        }
    }
}

/// Add `frac` of `idle`'s per-resource quantities to `to`. Only CPU, GPU and
/// RAM are idle resources; anything else on an idle allocation stays with
/// it.
pub(super) fn add_idle_share(
    to: &mut Allocation,
    idle: &Allocation,
    frac: PerResource,
    as_idle: bool,
) {
    to.cpu_core_hours += idle.cpu_core_hours * frac.cpu;
    to.cpu_cost += idle.cpu_cost * frac.cpu;
    to.cpu_cost_adjustment += idle.cpu_cost_adjustment * frac.cpu;
    to.gpu_hours += idle.gpu_hours * frac.gpu;
    to.gpu_cost += idle.gpu_cost * frac.gpu;
    to.gpu_cost_adjustment += idle.gpu_cost_adjustment * frac.gpu;
    to.ram_byte_hours += idle.ram_byte_hours * frac.ram;
    to.ram_cost += idle.ram_cost * frac.ram;
    to.ram_cost_adjustment += idle.ram_cost_adjustment * frac.ram;
    if as_idle {
        // Informational: how much of the cost above is shared idle.
        to.cpu_cost_idle += idle.cpu_total_cost() * frac.cpu;
        to.gpu_cost_idle += idle.gpu_total_cost() * frac.gpu;
        to.ram_cost_idle += idle.ram_total_cost() * frac.ram;
    }
}

/// The part of idle allocation `a` made of `frac` of its idle resources,
/// plus its other costs (PV, network, …) if `with_other`.
pub(super) fn idle_part(a: &Allocation, frac: PerResource, with_other: bool) -> Allocation {
    let mut out = if with_other {
        let mut o = a.clone();
        // Clear the resource quantities; the fraction is added back below.
        add_idle_share(&mut o, a, PerResource::all(-1.0), false);
        o
    } else {
        let mut o = Allocation::new(a.name.clone(), a.window);
        o.properties = a.properties.clone();
        o.start = a.start;
        o.end = a.end;
        o
    };
    add_idle_share(&mut out, a, frac, false);
    out
}
